//! benchscope's measurements live beside this file, one bench target each
//! (`cargo bench -p benchscope-benches --bench NAME`); `support/` holds the
//! child-process measuring that `overhead` and `peers` share. This library
//! is empty: a package needs a target of its own besides its benches.
