// Command dashboard-check validates Grafana dashboards (JSON models) against
// Grafana's published schema, as the Grafana Foundation SDK generates it
// from Grafana's own definitions: strict decoding, which fails on an
// unknown field, a field of the wrong type or a missing required one, in
// the dashboard, its panels, their options and field configs (each panel
// type's own schema) and their Prometheus queries; then the schema's
// constraints. Grafana itself is not run.
//
//	go run . DASHBOARD.json...
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dashboard-check DASHBOARD.json...")
		os.Exit(2)
	}
	// Panel options, field configs and queries decode into each plugin's
	// own types, not into free-form maps.
	plugins.RegisterDefaultPlugins()
	failed := 0
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "dashboard-check: %d of %d dashboards do not match Grafana's schema\n", failed, len(os.Args)-1)
		os.Exit(1)
	}
}

func check(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var board dashboard.Dashboard
	if err := failure(board.UnmarshalJSONStrict(raw)); err != nil {
		return fmt.Errorf("does not decode strictly: %w", err)
	}
	if err := failure(board.Validate()); err != nil {
		return fmt.Errorf("breaks the schema's constraints: %w", err)
	}
	// The SDK's union of panel and row drops a panel that decoded
	// cleanly (the empty error list above counts as an error there), so
	// each panel is decoded again on its own, for its constraints.
	var model struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &model); err != nil {
		return err
	}
	panels, rows := 0, 0
	for i, rawPanel := range model.Panels {
		var kind struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(rawPanel, &kind); err != nil {
			return fmt.Errorf("panels[%d]: %w", i, err)
		}
		if kind.Type == "row" {
			rows++
			continue
		}
		var panel dashboard.Panel
		if err := failure(panel.UnmarshalJSONStrict(rawPanel)); err != nil {
			return fmt.Errorf("panels[%d]: does not decode strictly: %w", i, err)
		}
		if err := failure(panel.Validate()); err != nil {
			return fmt.Errorf("panels[%d] (%s): breaks the schema's constraints: %w", i, title(panel), err)
		}
		panels++
	}
	fmt.Printf("%s: valid (%d panels, %d rows)\n", path, panels, rows)
	return nil
}

// failure is err, unless it is an empty list of build errors: the SDK's
// decoders return one, typed but holding nothing, when a nested decode
// found no fault.
func failure(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

func title(panel dashboard.Panel) string {
	if panel.Title == nil {
		return "untitled"
	}
	return *panel.Title
}
