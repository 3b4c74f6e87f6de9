"""k-nearest neighbours on frozen PTM features: a cosine-similarity vote over the training set."""

from zhijian_core.methods.knn.config import KNNConfig
from zhijian_core.methods.knn.method import KNearestNeighbours
from zhijian_core.methods.knn.module import KNNArchitecture, KNNClassifier, rebuild_knn

__all__ = ["KNNArchitecture", "KNNClassifier", "KNNConfig", "KNearestNeighbours", "rebuild_knn"]
