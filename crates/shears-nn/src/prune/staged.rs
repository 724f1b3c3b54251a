//! How calibration data reaches a layer. Any closure that runs the data through the whole
//! model will do; for shears' networks [`run_network`] keeps the activations at the start of
//! the stage being measured (a transformer block), so a step that calibrates its layers in
//! forward order runs each stage a few times instead of the whole network once per layer.

use crate::models::{Activation, Input, LayerInput, Network, Probe};
use burn::module::Module;
use std::collections::BTreeMap;

/// Runs calibration data through a model, showing layer inputs to a probe.
pub trait Calibration<M> {
    /// Runs the data through `model` far enough that `probe` sees the input of `layer`
    /// (`None`: of every layer).
    fn run(&mut self, model: &M, probe: &mut dyn Probe, layer: Option<&str>) -> Result<(), String>;

    /// `layer`'s parameters have changed since the last run, so anything kept from before
    /// that depends on them is stale.
    fn changed(&mut self, _layer: &str) {}
}

/// The calibration a pruning step is given.
pub type Calibrate<'a, M> = dyn Calibration<M> + 'a;

/// A closure runs the whole model every time.
impl<M, F: FnMut(&M, &mut dyn Probe) -> Result<(), String>> Calibration<M> for F {
    fn run(&mut self, model: &M, probe: &mut dyn Probe, _: Option<&str>) -> Result<(), String> {
        self(model, probe)
    }
}

/// The calibration of a shears [`Network`] on `set` (batches as from
/// [`super::calibration_set`]), in inference mode (no autodiff graph is recorded).
pub fn run_network(set: &[Input]) -> NetworkCalibration<'_> {
    NetworkCalibration {
        set,
        kept: None,
        stage_of: BTreeMap::new(),
    }
}

/// See [`run_network`]. Correct as long as every change to the model between runs is
/// reported through [`Calibration::changed`]: kept activations are dropped when a layer at or
/// before their stage changes.
pub struct NetworkCalibration<'a> {
    set: &'a [Input],
    /// The input of stage `.0` for every batch, computed with the model as it is.
    kept: Option<(usize, Vec<Activation>)>,
    /// The stage each layer seen so far belongs to.
    stage_of: BTreeMap<String, usize>,
}

impl Calibration<Network> for NetworkCalibration<'_> {
    fn run(
        &mut self,
        model: &Network,
        probe: &mut dyn Probe,
        layer: Option<&str>,
    ) -> Result<(), String> {
        let model = model.valid();
        match layer.map(|l| self.stage_of.get(l).copied()) {
            None => self.run_all(&model, probe),
            Some(Some(stage)) => self.run_stage(&model, probe, stage),
            Some(None) => self.search(&model, probe, layer.unwrap_or_default()),
        }
    }

    fn changed(&mut self, layer: &str) {
        let at = self.kept.as_ref().map_or(0, |(s, _)| *s);
        if self.stage_of.get(layer).is_none_or(|&s| s < at) {
            self.kept = None;
        }
    }
}

impl NetworkCalibration<'_> {
    /// Every stage from the network's input, learning where each layer is.
    fn run_all(&mut self, model: &Network, probe: &mut dyn Probe) -> Result<(), String> {
        for x in self.set {
            let mut a = Activation::Input(x.clone());
            for i in 0..model.stages() {
                let mut seen = Learn {
                    inner: &mut *probe,
                    stage: i,
                    stage_of: &mut self.stage_of,
                    want: None,
                    seen: false,
                };
                a = model.forward_stage(i, a, Some(&mut seen))?;
            }
        }
        Ok(())
    }

    /// The kept activations moved forward to the input of `stage` (from the network's input
    /// when none are kept or they are past it).
    fn advance(&mut self, model: &Network, stage: usize) -> Result<&[Activation], String> {
        let (mut at, mut acts) = match self.kept.take() {
            Some((at, acts)) if at <= stage => (at, acts),
            _ => (0, self.set.iter().cloned().map(Activation::Input).collect()),
        };
        while at < stage {
            acts = acts
                .into_iter()
                .map(|a| model.forward_stage(at, a, None))
                .collect::<Result<_, _>>()?;
            at += 1;
        }
        Ok(&self.kept.insert((stage, acts)).1)
    }

    fn run_stage(
        &mut self,
        model: &Network,
        probe: &mut dyn Probe,
        stage: usize,
    ) -> Result<(), String> {
        for a in self.advance(model, stage)? {
            model.forward_stage(stage, a.clone(), Some(&mut *probe))?;
        }
        Ok(())
    }

    /// A layer not yet placed: stage by stage from the kept activations until it is seen
    /// (stopping at its stage, so the kept activations stay valid for it and what follows);
    /// if it never is, the whole network from its input.
    fn search(
        &mut self,
        model: &Network,
        probe: &mut dyn Probe,
        layer: &str,
    ) -> Result<(), String> {
        let mut stage = self.kept.as_ref().map_or(0, |(s, _)| *s);
        while stage < model.stages() {
            let acts = self.advance(model, stage)?.to_vec();
            let mut learn = Learn {
                inner: &mut *probe,
                stage,
                stage_of: &mut self.stage_of,
                want: Some(layer),
                seen: false,
            };
            let out = acts
                .into_iter()
                .map(|a| model.forward_stage(stage, a, Some(&mut learn)))
                .collect::<Result<Vec<_>, _>>()?;
            if learn.seen {
                return Ok(());
            }
            stage += 1;
            self.kept = Some((stage, out));
        }
        self.kept = None;
        self.run_all(model, probe)
    }
}

/// Passes inputs on, recording the stage of every layer (and whether `want` was seen).
struct Learn<'a> {
    inner: &'a mut dyn Probe,
    stage: usize,
    stage_of: &'a mut BTreeMap<String, usize>,
    want: Option<&'a str>,
    seen: bool,
}

impl Probe for Learn<'_> {
    fn input(&mut self, layer: &str, x: LayerInput<'_>) {
        self.shared_input(&[layer.to_string()], x);
    }

    fn shared_input(&mut self, layers: &[String], x: LayerInput<'_>) {
        for l in layers {
            self.stage_of.entry(l.clone()).or_insert(self.stage);
            self.seen |= self.want == Some(l.as_str());
        }
        self.inner.shared_input(layers, x);
    }
}
