//! The embedded fashion-mnist-mini set.

use shears_data::{
    BatchConfig, Batches, DatasetId, load, load_fashion_mnist_mini, split_validation,
};

#[test]
fn mini_set_shape_and_balance() {
    let s = load_fashion_mnist_mini().unwrap();
    assert_eq!(s.train.len(), 10_000);
    assert_eq!(s.test.len(), 10_000);
    assert_eq!(s.train.class_counts(), vec![1000; 10]);
    assert_eq!(s.test.class_counts(), vec![1000; 10]);
    assert_eq!(s.train.sample_shape(), [1, 28, 28]);
    assert_eq!(s.test.sample_shape(), [1, 28, 28]);
    assert_eq!(s.train.num_classes, 10);
    assert_eq!(s.train.images.len(), 10_000 * 784);
    // Real images, not zeros: Fashion-MNIST's mean pixel is about 0.286 × 255 ≈ 73.
    let mean = s.train.images.iter().map(|&p| p as f64).sum::<f64>() / s.train.images.len() as f64;
    assert!((60.0..85.0).contains(&mean), "mean pixel {mean}");
    assert_eq!(load(DatasetId::default(), None).unwrap(), s);
}

#[test]
fn mini_validation_split_and_batches() {
    let s = load_fashion_mnist_mini().unwrap();
    let (train, val) = split_validation(&s.train, 0.1, 0).unwrap();
    assert_eq!((train.len(), val.len()), (9000, 1000));
    assert_eq!(val.class_counts(), vec![100; 10]);
    let cfg = BatchConfig::train(128, 0, DatasetId::FashionMnistMini.normalization(), None);
    let sizes: Vec<usize> = Batches::new(&train, &cfg, 0)
        .unwrap()
        .map(|b| b.n)
        .collect();
    assert_eq!(sizes.len(), 71);
    assert_eq!(*sizes.last().unwrap(), 9000 - 70 * 128);
}
