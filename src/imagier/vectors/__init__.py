"""Embedders (models and signatures that turn images into vectors) and the embedding job.

- registry.py: embedders by name (`get_embedder`, `register`);
- efficientnet.py: the offline EfficientNet-Lite0 (ONNX graph built from the shipped PyTorch weights);
- hashes.py: perceptual hash, colour histogram, greyscale layout;
- torchfile.py: reading PyTorch checkpoints without PyTorch;
- embed.py: the `Embedding` operations of a Project.
Vector storage itself is in store/vectors.py.
"""
