"""``tn.models``: ready-made networks, and the registry the ``tinynet`` command builds them from.

Each model module registers its builders with :func:`register_model` when imported; add
one import line here per model module.
"""
from .registry import MODELS, build_model, list_models, register_model
from .mlp import MLP
from .cnn import LeNet, ResNetSmall
from .gpt import GPTMini
from .bert import BERTClassifier, BERTEncoder, BERTForPreTraining
from .lstm_lm import LSTMLanguageModel
