//! Cumulative masks over the prunable tensors, and their application to a model.
//!
//! Pruned entries are kept at zero by re-applying the mask after every optimizer step rather
//! than by reparameterising the forward pass. For the surviving weights the two are the same
//! computation (a zero weight contributes nothing to the forward pass or to other weights'
//! gradients, and weight decay/momentum act per entry), and it guarantees exact zeros whatever
//! the optimizer does — the failure mode users of other toolkits keep reporting is momentum or
//! weight decay reviving pruned weights. The optimizer is also rebuilt at every pruning step.

use super::Prunable;
use crate::params::PathStack;
use crate::train::AfterStep;
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use shears_core::masks::{Mask, SparsityReport};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct MaskSet {
    pub params: Vec<Prunable>,
    pub masks: Vec<Mask>,
    /// Device-resident 0/1 tensors, built on first use per path; `None` for a tensor with
    /// nothing pruned, which is left as it is.
    cache: HashMap<String, Option<Tensor<1>>>,
}

impl MaskSet {
    pub fn dense(params: Vec<Prunable>) -> Self {
        let masks = params.iter().map(|p| Mask::dense(p.len())).collect();
        Self::new(params, masks)
    }

    pub fn new(params: Vec<Prunable>, masks: Vec<Mask>) -> Self {
        assert_eq!(params.len(), masks.len(), "one mask per prunable tensor");
        Self {
            params,
            masks,
            cache: HashMap::new(),
        }
    }

    /// Masks of a checkpoint whose pruned weights were folded in: exact zeros are pruned.
    /// (A trained weight that is exactly 0.0 is vanishingly rare; it would count as pruned.)
    pub fn from_zeros(params: Vec<Prunable>, values: &[Vec<f32>]) -> Self {
        let masks = values
            .iter()
            .map(|v| Mask::from_keep(v.iter().map(|x| *x != 0.0).collect()))
            .collect();
        Self::new(params, masks)
    }

    /// Replaces the masks (after a pruning step) and drops the device cache.
    pub fn set_masks(&mut self, masks: Vec<Mask>) {
        assert_eq!(masks.len(), self.params.len());
        self.masks = masks;
        self.cache.clear();
    }

    /// Replaces the mask of tensor `t` and drops its device copy.
    pub fn set_mask(&mut self, t: usize, mask: Mask) {
        assert_eq!(mask.len(), self.masks[t].len());
        self.masks[t] = mask;
        self.cache.remove(&self.params[t].path);
    }

    pub fn report(&self) -> SparsityReport {
        SparsityReport::from_masks(&self.masks)
    }

    /// Zeroes every pruned entry of `model`; parameter ids (and so optimizer state keys) are
    /// preserved.
    pub fn apply<M: Module>(&mut self, model: M) -> M {
        let mut mapper = MaskMapper {
            stack: PathStack::default(),
            set: self,
        };
        model.map(&mut mapper)
    }

    /// The 0/1 mask of the tensor at `path` on `device`; `None` when it is not prunable or
    /// has nothing pruned.
    fn mask_tensor(&mut self, path: &str, device: &Device) -> Option<Tensor<1>> {
        match self.cache.get(path) {
            Some(None) => return None,
            Some(Some(t)) if t.device() == *device => return Some(t.clone()),
            _ => {}
        }
        let i = self.params.iter().position(|p| p.path == path)?;
        let mask = &self.masks[i];
        let t =
            (mask.pruned() > 0).then(|| Tensor::<1>::from_floats(mask.to_f32().as_slice(), device));
        self.cache.insert(path.to_string(), t.clone());
        t
    }
}

impl<M: Module> AfterStep<M> for MaskSet {
    fn after_step(&mut self, model: M) -> M {
        self.apply(model)
    }
}

struct MaskMapper<'a> {
    stack: PathStack,
    set: &'a mut MaskSet,
}

impl ModuleMapper for MaskMapper<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.stack.exit(container_type);
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.stack.path();
        let device = param.val().device();
        let Some(mask) = self.set.mask_tensor(&path, &device) else {
            return param;
        };
        param.map(|t| {
            let grad = t.is_require_grad();
            let shape = t.shape();
            // Detach so the product is a fresh leaf, not a node hanging off the last step. The
            // weight is moved, not cloned: a backend may then multiply in place when nothing
            // else holds it (a snapshot of the best epoch does, and keeps its own values).
            let masked = (t.detach() * mask.reshape(shape)).detach();
            if grad { masked.require_grad() } else { masked }
        })
    }
}
