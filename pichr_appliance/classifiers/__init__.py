"""Image classifiers: ``base`` is the contract (:class:`ImageClassifier`, what
``register_classifiers`` returns), ``contract`` the test suite every classifier runs.
The appliance ships none: pichr-nsfw is one."""

from .base import ImageClassifier

__all__ = ["ImageClassifier"]
