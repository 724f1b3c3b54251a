//! The MLP and the convolutional networks as ONNX nodes, mirroring each model's `forward`
//! (crate::models) in inference mode.

use super::graph::{Graph, attr_int, attr_ints};
use crate::models::{BasicBlock, ConvBn, LeNet, Mlp, Pool, ResNet, Vgg};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::{AvgPool2d, MaxPool2d};

fn pool_pads(path: &str, p: &PaddingConfig2d) -> Result<[usize; 4], String> {
    match *p {
        PaddingConfig2d::Valid => Ok([0; 4]),
        PaddingConfig2d::Explicit(t, l, b, r) => Ok([t, l, b, r]),
        PaddingConfig2d::Same => Err(format!("{path}: 'same' padding is not exported")),
    }
}

fn max_pool(g: &mut Graph, p: &MaxPool2d, x: &str) -> Result<String, String> {
    let pads = pool_pads("max-pool", &p.padding)?;
    Ok(g.op(
        "MaxPool",
        &[x],
        vec![
            attr_ints("kernel_shape", &p.kernel_size),
            attr_ints("strides", &p.stride),
            attr_ints("dilations", &p.dilation),
            attr_ints("pads", &pads),
            attr_int("ceil_mode", p.ceil_mode as i64),
        ],
    ))
}

fn avg_pool(g: &mut Graph, p: &AvgPool2d, x: &str) -> Result<String, String> {
    let pads = pool_pads("average-pool", &p.padding)?;
    Ok(g.op(
        "AveragePool",
        &[x],
        vec![
            attr_ints("kernel_shape", &p.kernel_size),
            attr_ints("strides", &p.stride),
            attr_ints("pads", &pads),
            attr_int("count_include_pad", p.count_include_pad as i64),
            attr_int("ceil_mode", p.ceil_mode as i64),
        ],
    ))
}

fn flatten(g: &mut Graph, x: &str) -> String {
    g.op("Flatten", &[x], vec![attr_int("axis", 1)])
}

pub fn mlp(g: &mut Graph, m: &Mlp, x: &str) -> String {
    let x = flatten(g, x);
    let x = g.linear("fc1", &m.fc1, &x);
    let x = g.relu(&x);
    let x = g.linear("fc2", &m.fc2, &x);
    let x = g.relu(&x);
    g.linear("fc3", &m.fc3, &x)
}

pub fn lenet(g: &mut Graph, m: &LeNet, x: &str) -> Result<String, String> {
    let mut x = x.to_string();
    for (path, conv) in [("conv1", &m.conv1), ("conv2", &m.conv2)] {
        let y = g.conv(path, conv, &x)?;
        let y = g.relu(&y);
        x = match &m.pool {
            Pool::Max(p) => max_pool(g, p, &y)?,
            Pool::Avg(p) => avg_pool(g, p, &y)?,
        };
    }
    let x = flatten(g, &x);
    let x = g.linear("fc1", &m.fc1, &x);
    let x = g.relu(&x);
    let x = g.linear("fc2", &m.fc2, &x);
    let x = g.relu(&x);
    Ok(g.linear("fc3", &m.fc3, &x))
}

fn conv_bn(g: &mut Graph, path: &str, c: &ConvBn, x: &str, relu: bool) -> Result<String, String> {
    let y = g.conv(&format!("{path}.conv"), &c.conv, x)?;
    let y = g.batch_norm(&format!("{path}.bn"), &c.bn, &y);
    Ok(if relu { g.relu(&y) } else { y })
}

/// Global average pooling to `[n, c]`, then the classifier.
fn head(g: &mut Graph, path: &str, l: &burn::nn::Linear, x: &str) -> String {
    let x = g.op("GlobalAveragePool", &[x], vec![]);
    let x = flatten(g, &x);
    g.linear(path, l, &x)
}

pub fn vgg(g: &mut Graph, m: &Vgg, x: &str) -> Result<String, String> {
    let mut x = x.to_string();
    for (i, layer) in m.features.iter().enumerate() {
        x = conv_bn(g, &format!("features.{i}"), layer, &x, true)?;
        if m.pool_after.contains(&i) {
            x = max_pool(g, &m.pool, &x)?;
        }
    }
    Ok(head(g, "classifier", &m.classifier, &x))
}

fn basic_block(g: &mut Graph, i: usize, b: &BasicBlock, x: &str) -> Result<String, String> {
    let y = conv_bn(g, &format!("blocks.{i}.conv1"), &b.conv1, x, true)?;
    let y = conv_bn(g, &format!("blocks.{i}.conv2"), &b.conv2, &y, false)?;
    let skip = match &b.shortcut {
        Some(s) => conv_bn(g, &format!("blocks.{i}.shortcut"), s, x, false)?,
        None => x.to_string(),
    };
    let sum = g.op("Add", &[&y, &skip], vec![]);
    Ok(g.relu(&sum))
}

pub fn resnet(g: &mut Graph, m: &ResNet, x: &str) -> Result<String, String> {
    let mut x = conv_bn(g, "stem", &m.stem, x, true)?;
    if let Some(pool) = &m.pool {
        x = max_pool(g, pool, &x)?;
    }
    for (i, b) in m.blocks.iter().enumerate() {
        x = basic_block(g, i, b, &x)?;
    }
    Ok(head(g, "fc", &m.fc, &x))
}
