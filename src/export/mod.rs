//! Taking a model out of `dl`: ONNX ([`onnx`], with the protobuf messages
//! it needs in [`proto`]) and PyTorch ([`torch`]).

pub mod onnx;
pub mod proto;
pub mod torch;
