//! Parameters by stable path (`fc1.weight`, `blocks.3.conv1.conv.weight`): the names masks,
//! reports and checkpoints share. Enum variant names (`Mlp`, `ResNet`) are left out so a path
//! depends only on the architecture's structure.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

/// Calls `f(path, tensor)` for every float parameter of `module`, in declaration order.
pub fn visit_floats<M: Module>(module: &M, f: impl FnMut(&str, FloatParam<'_>)) {
    let mut v = PathVisitor {
        stack: PathStack::default(),
        f,
    };
    module.visit(&mut v);
}

/// A float parameter of any rank, as seen by [`visit_floats`].
pub enum FloatParam<'a> {
    D1(&'a Tensor<1>),
    D2(&'a Tensor<2>),
    D4(&'a Tensor<4>),
    Other(Vec<usize>),
}

impl FloatParam<'_> {
    pub fn dims(&self) -> Vec<usize> {
        match self {
            FloatParam::D1(t) => t.dims().to_vec(),
            FloatParam::D2(t) => t.dims().to_vec(),
            FloatParam::D4(t) => t.dims().to_vec(),
            FloatParam::Other(d) => d.clone(),
        }
    }

    /// Copies the values to the host (row-major, Burn layout).
    pub fn to_vec(&self) -> Vec<f32> {
        let data = match self {
            FloatParam::D1(t) => (*t).clone().into_data(),
            FloatParam::D2(t) => (*t).clone().into_data(),
            FloatParam::D4(t) => (*t).clone().into_data(),
            FloatParam::Other(_) => return Vec::new(),
        };
        data.convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default()
    }
}

/// The current parameter path during a module traversal, shared by every visitor and mapper
/// that addresses parameters by name (enum variant names are skipped).
#[derive(Debug, Default)]
pub struct PathStack(Vec<String>);

impl PathStack {
    pub fn enter(&mut self, name: &str, container_type: &str) {
        if !container_type.starts_with("Enum:") {
            self.0.push(name.to_string());
        }
    }

    pub fn exit(&mut self, container_type: &str) {
        if !container_type.starts_with("Enum:") {
            self.0.pop();
        }
    }

    pub fn path(&self) -> String {
        self.0.join(".")
    }
}

struct PathVisitor<F> {
    stack: PathStack,
    f: F,
}

impl<F: FnMut(&str, FloatParam<'_>)> ModuleVisitor for PathVisitor<F> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.stack.exit(container_type);
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.stack.path();
        let value = param.val();
        let any: &dyn std::any::Any = &value;
        let p = if let Some(t) = any.downcast_ref::<Tensor<1>>() {
            FloatParam::D1(t)
        } else if let Some(t) = any.downcast_ref::<Tensor<2>>() {
            FloatParam::D2(t)
        } else if let Some(t) = any.downcast_ref::<Tensor<4>>() {
            FloatParam::D4(t)
        } else {
            FloatParam::Other(value.dims().to_vec())
        };
        (self.f)(&path, p);
    }
}

/// `(path, shape)` of every float parameter.
pub fn shapes<M: Module>(module: &M) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    visit_floats(module, |p, t| out.push((p.to_string(), t.dims())));
    out
}
