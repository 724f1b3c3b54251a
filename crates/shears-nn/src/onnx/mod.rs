//! A shears model as an ONNX graph (opset 17), written with prost from the schema's messages
//! (`proto`): every model kind, dense, masked (pruned entries are stored zeros) or physically
//! shrunk (the graph has the shrunk shapes). Initializers carry shears' parameter paths
//! (`blocks.0.conv1.conv.weight`), so the file reads like the safetensors export. The graph is
//! the model's inference `forward`: batch norm with running statistics. docs/interop.md says
//! what the inputs and outputs are.

mod cnn;
mod graph;
mod proto;
mod transformer;

use crate::models::{ModelSpec, Network};
use burn::module::Module;
use graph::{Dim, Graph, value_info};
use prost::Message;
use proto::{GraphProto, ModelProto, OperatorSetIdProto, StringStringEntryProto, data_type};

/// The ONNX operator set the graphs use (LayerNormalization needs 17).
pub const OPSET: i64 = 17;
/// The ONNX IR version of opset 17.
const IR_VERSION: i64 = 8;

/// `net` (built for `spec`) as ONNX bytes: input `input` — images `[N, c, h, w]` (f32) or, for
/// the language model, token ids `[N, T]` (i64, `T` up to the context) — and output `logits`,
/// `[N, classes]` (`[N·T, vocab]`). `metadata` goes into the model's metadata properties.
pub fn to_onnx(
    net: &Network,
    spec: &ModelSpec,
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, String> {
    let net = net.valid();
    let mut g = Graph::default();
    let [c, h, w] = spec.input;
    let (elem, dims) = match net {
        Network::Gpt(_) => (data_type::INT64, vec![Dim::Named("N"), Dim::Named("T")]),
        _ => (
            data_type::FLOAT,
            vec![Dim::Named("N"), Dim::Fixed(c), Dim::Fixed(h), Dim::Fixed(w)],
        ),
    };
    let last = match &net {
        Network::Mlp(m) => cnn::mlp(&mut g, m, "input"),
        Network::LeNet(m) => cnn::lenet(&mut g, m, "input")?,
        Network::Vgg(m) => cnn::vgg(&mut g, m, "input")?,
        Network::ResNet(m) => cnn::resnet(&mut g, m, "input")?,
        Network::Vit(m) => transformer::vit(&mut g, m, spec.input, "input"),
        Network::Gpt(m) => transformer::gpt(&mut g, m, "input"),
    };
    g.op_to("Identity", &[&last], vec![], "logits".into());
    let rows = match net {
        Network::Gpt(_) => Dim::Named("NT"),
        _ => Dim::Named("N"),
    };
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "shears".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("{} for input {:?}", spec.kind, spec.input),
        graph: Some(GraphProto {
            node: g.nodes,
            name: spec.kind.to_string(),
            initializer: g.initializers,
            input: vec![value_info("input", elem, &dims)],
            output: vec![value_info(
                "logits",
                data_type::FLOAT,
                &[rows, Dim::Fixed(spec.classes)],
            )],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props: metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: k.to_string(),
                value: v.clone(),
            })
            .collect(),
    };
    Ok(model.encode_to_vec())
}
