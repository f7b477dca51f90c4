//! Taking a model out of `dl`: ONNX ([`onnx`], with the protobuf messages
//! it needs in [`proto`]).

pub mod onnx;
pub mod proto;
