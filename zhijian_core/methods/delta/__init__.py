"""DELTA: fine-tuning regularised by attention-weighted feature-map distance to the source model."""

from zhijian_core.methods.delta.attention import attention_weights, channel_loss_rises, fit_probe
from zhijian_core.methods.delta.config import DeltaConfig
from zhijian_core.methods.delta.method import Delta
from zhijian_core.methods.delta.penalty import feature_map_distance

__all__ = ["Delta", "DeltaConfig", "attention_weights", "channel_loss_rises", "feature_map_distance",
           "fit_probe"]
