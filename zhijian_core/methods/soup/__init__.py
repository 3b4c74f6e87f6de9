"""Model soups: the average of models fine-tuned from one PTM on one task, uniform or greedy."""

from zhijian_core.methods.soup.config import SoupConfig
from zhijian_core.methods.soup.method import ModelSoup, greedy_soup

__all__ = ["ModelSoup", "SoupConfig", "greedy_soup"]
