"""Embedders (models and signatures that turn images into vectors) and the embedding job.

- base.py: the `Embedder` base class;
- registry.py: embedders by name (`get_embedder`, `register`);
- models.py: the catalogue of models and the downloads of those that do not ship with imagier;
- clip.py, multilingual.py: the downloadable CLIP model and multilingual text encoder;
- efficientnet.py: the offline EfficientNet-Lite0 (ONNX graph built from the shipped PyTorch weights);
- hashes.py: perceptual hash, colour histogram, greyscale layout;
- torchfile.py: reading PyTorch checkpoints without PyTorch;
- embed.py: the `Embedding` part of a Project;
- index.py: top-k search over a matrix of vectors.
Vector storage itself is in operations/vectors.py (its SQL in store/vectors.py).
"""

# The downloadable models join the catalogue when their modules are imported.
from . import clip, multilingual  # noqa: E402,F401
