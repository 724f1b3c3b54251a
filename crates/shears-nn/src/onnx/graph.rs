//! A small builder for an ONNX graph: named initializers from Burn tensors, nodes with one
//! output each (named by a counter), and the layer patterns shears' models share.

use super::proto::{
    AttributeProto, Dimension, NodeProto, TensorProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto, attribute_type, data_type,
};
use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, LayerNorm, Linear, PaddingConfig2d};
use burn::prelude::*;

/// Nodes and initializers in the order they are added (nodes topologically sorted, as ONNX
/// requires, because every node is added after the nodes it reads).
#[derive(Default)]
pub struct Graph {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    next: usize,
}

pub fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: attribute_type::INT,
        ..Default::default()
    }
}

pub fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f,
        r#type: attribute_type::FLOAT,
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, ints: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: ints.iter().map(|&v| v as i64).collect(),
        r#type: attribute_type::INTS,
        ..Default::default()
    }
}

/// One dimension of a graph input or output: a size, or a name for one fixed at run time.
#[derive(Debug, Clone, Copy)]
pub enum Dim {
    Fixed(usize),
    Named(&'static str),
}

/// A tensor's declaration (graph input or output).
pub fn value_info(name: &str, elem_type: i32, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match *d {
            Dim::Fixed(v) => Dimension {
                dim_value: Some(v as i64),
                dim_param: None,
            },
            Dim::Named(n) => Dimension {
                dim_value: None,
                dim_param: Some(n.into()),
            },
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

impl Graph {
    /// A float initializer named `name` holding `t` (row-major, as Burn stores it).
    pub fn weight<const D: usize>(&mut self, name: &str, t: Tensor<D>) -> String {
        let dims = t.dims().iter().map(|&d| d as i64).collect();
        // Converted to f32 first, so reading the values as f32 cannot fail.
        let values: Vec<f32> = t
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .expect("data converted to f32 reads as f32");
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_init(TensorProto {
            dims,
            data_type: data_type::FLOAT,
            name: name.into(),
            raw_data,
        })
    }

    pub fn param<const D: usize>(&mut self, name: &str, p: &Param<Tensor<D>>) -> String {
        self.weight(name, p.val())
    }

    /// An int64 initializer (shapes for Reshape, indices).
    pub fn ints(&mut self, name: &str, dims: &[usize], values: &[i64]) -> String {
        self.push_init(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type::INT64,
            name: name.into(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        })
    }

    fn push_init(&mut self, t: TensorProto) -> String {
        let name = t.name.clone();
        self.initializers.push(t);
        name
    }

    /// Adds a node of `op` reading `inputs`; returns its (single) output's name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        self.next += 1;
        let out = format!("{}_{}", op.to_ascii_lowercase(), self.next);
        self.op_to(op, inputs, attribute, out)
    }

    /// [`Self::op`] with the output named `out` (the graph's outputs).
    pub fn op_to(
        &mut self,
        op: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
        out: String,
    ) -> String {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: out.clone(),
            op_type: op.into(),
            attribute,
        });
        out
    }

    /// `x · W + b` for `x` of any rank (Burn's Linear weight is `[in, out]`, MatMul's layout).
    pub fn linear(&mut self, path: &str, l: &Linear, x: &str) -> String {
        let w = self.param(&format!("{path}.weight"), &l.weight);
        let y = self.op("MatMul", &[x, &w], vec![]);
        match &l.bias {
            Some(b) => {
                let b = self.param(&format!("{path}.bias"), b);
                self.op("Add", &[&y, &b], vec![])
            }
            None => y,
        }
    }

    pub fn conv(&mut self, path: &str, c: &Conv2d, x: &str) -> Result<String, String> {
        let [top, left, bottom, right] = match c.padding {
            PaddingConfig2d::Valid => [0; 4],
            PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r],
            PaddingConfig2d::Same => {
                return Err(format!("{path}: 'same' padding is not exported"));
            }
        };
        let w = self.param(&format!("{path}.weight"), &c.weight);
        let mut inputs = vec![x.to_string(), w];
        if let Some(b) = &c.bias {
            inputs.push(self.param(&format!("{path}.bias"), b));
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(self.op(
            "Conv",
            &inputs,
            vec![
                attr_ints("kernel_shape", &c.kernel_size),
                attr_ints("strides", &c.stride),
                attr_ints("dilations", &c.dilation),
                attr_ints("pads", &[top, left, bottom, right]),
                attr_int("group", c.groups as i64),
            ],
        ))
    }

    /// Inference-mode batch norm (running statistics).
    pub fn batch_norm(&mut self, path: &str, bn: &BatchNorm, x: &str) -> String {
        let scale = self.param(&format!("{path}.weight"), &bn.gamma);
        let bias = self.param(&format!("{path}.bias"), &bn.beta);
        let mean = self.weight(&format!("{path}.running_mean"), bn.running_mean.value());
        let var = self.weight(&format!("{path}.running_var"), bn.running_var.value());
        self.op(
            "BatchNormalization",
            &[x, &scale, &bias, &mean, &var],
            vec![attr_float("epsilon", bn.epsilon as f32)],
        )
    }

    /// Layer norm over the last axis. Burn keeps the epsilon private; shears' models all use
    /// `LayerNormConfig`'s default, 1e-5 (the export tests would catch another).
    pub fn layer_norm(&mut self, path: &str, ln: &LayerNorm, x: &str) -> String {
        let scale = self.param(&format!("{path}.weight"), &ln.gamma);
        let mut inputs = vec![x.to_string(), scale];
        if let Some(b) = &ln.beta {
            inputs.push(self.param(&format!("{path}.bias"), b));
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.op(
            "LayerNormalization",
            &inputs,
            vec![attr_int("axis", -1), attr_float("epsilon", 1e-5)],
        )
    }

    pub fn relu(&mut self, x: &str) -> String {
        self.op("Relu", &[x], vec![])
    }

    /// Exact (erf) GELU, as Burn's `gelu`: `x · (1 + erf(x / √2)) / 2`.
    pub fn gelu(&mut self, x: &str) -> String {
        let sqrt2 = self.scalar(std::f32::consts::SQRT_2);
        let one = self.scalar(1.0);
        let half = self.scalar(0.5);
        let e = self.op("Div", &[x, &sqrt2], vec![]);
        let e = self.op("Erf", &[&e], vec![]);
        let e = self.op("Add", &[&e, &one], vec![]);
        let y = self.op("Mul", &[x, &e], vec![]);
        self.op("Mul", &[&y, &half], vec![])
    }

    /// A float scalar constant (an initializer of rank 0).
    pub fn scalar(&mut self, v: f32) -> String {
        self.next += 1;
        let name = format!("const_{}", self.next);
        self.push_init(TensorProto {
            dims: vec![],
            data_type: data_type::FLOAT,
            name,
            raw_data: v.to_le_bytes().to_vec(),
        })
    }

    /// `x` reshaped to `shape` (`-1` and `0` as ONNX's Reshape reads them).
    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        self.next += 1;
        let s = self.ints(&format!("shape_{}", self.next), &[shape.len()], shape);
        self.op("Reshape", &[x, &s], vec![])
    }

    pub fn transpose(&mut self, x: &str, perm: &[usize]) -> String {
        self.op("Transpose", &[x], vec![attr_ints("perm", perm)])
    }
}
