pub use redpipe_runtime::*;
