//! Taking a model out of `dl`: ONNX ([`onnx`], with the protobuf messages
//! it needs in [`proto`]) and PyTorch ([`torch`] for the module,
//! [`torch_train`] for a `train` block's program).

pub mod onnx;
pub mod proto;
pub mod torch;
pub mod torch_train;
