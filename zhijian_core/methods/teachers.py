"""Teachers and students of the Tuner methods: resolving them and reading their embeddings.

Shared by the distillation-style Tuner methods (FitNet, RKD, REFILLED). A teacher is a model
reference (``run:<run id or method name>`` or a PTM spec) resolved by the context; it must read the
student's input tensors, so both PTMs need identical preprocessing. Its embeddings (pooled features)
are computed once over the training data and indexed per batch.
"""

from __future__ import annotations

from typing import Mapping

from torch import Tensor, nn

from zhijian_core.data.dataset import Dataset
from zhijian_core.errors import MethodError, NotApplicableError
from zhijian_core.methods.base import MethodConfig, MethodContext, ReuseMethod
from zhijian_core.methods.kd.transfer import preprocessing_difference
from zhijian_core.model import ReuseClassifier
from zhijian_core.ptm.loaded import LoadedPTM


class _Embedding(nn.Module):
    """A classifier's pooled (possibly normalised) features, as a module to run over a dataset."""

    def __init__(self, classifier: ReuseClassifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.classifier.forward_features(batch)


class TeacherStudentMethod(ReuseMethod):
    """A Tuner method with a ``teacher`` reference and an optional ``student`` PTM in its config.

    The student PTM (when the config names one) is loaded once; the teacher is resolved in
    :meth:`resolve_teacher` and never becomes part of the target model.
    """

    def __init__(self, config: MethodConfig) -> None:
        super().__init__(config)
        self._student: LoadedPTM | None = None

    def target_ptm(self, ctx: MethodContext) -> LoadedPTM:
        """The student PTM (loaded once), or the comparison's PTM when the config names none."""
        student = getattr(self.config, "student", None)
        if student is None:
            return ctx.ptm
        if self._student is None:
            self._student = ctx.load_ptm(student)
        return self._student

    def resolve_teacher(self, ctx: MethodContext) -> tuple[ReuseClassifier, LoadedPTM]:
        """The teacher classifier and its PTM, checked to read the student's tensors.

        Raises:
            NotApplicableError: the teacher's preprocessing differs from the student's.
            MethodError: the reference resolves to something other than a backbone-plus-head
                classifier (its features and blocks are needed).
        """
        reference = self.config.teacher
        teacher, teacher_ptm = ctx.load_model(reference)
        student = self.target_ptm(ctx)
        difference = preprocessing_difference(teacher_ptm, student)
        if difference is not None:
            raise NotApplicableError(
                f"method '{self.name}' cannot learn from teacher '{reference}' "
                f"({teacher_ptm.spec}) in student {student.spec}: {difference}. The teacher reads "
                "the student's input tensors, so choose a teacher and a student whose "
                "preprocessing is identical")
        if not isinstance(teacher, ReuseClassifier):
            raise MethodError(
                f"method '{self.name}': teacher '{reference}' is a {type(teacher).__name__}, not a "
                "backbone-plus-head classifier, so its features cannot be read; use a run of a "
                "single-model method or a PTM spec")
        return teacher.eval(), teacher_ptm


def teacher_embeddings(ctx: MethodContext, teacher: ReuseClassifier, teacher_ptm: LoadedPTM,
                       data: Dataset) -> Tensor:
    """The teacher's pooled features ``(N, D_t)`` on ``data``, float32, on ``ctx.device``."""
    embed = _Embedding(teacher).eval()  # eval first: the runner restores the mode it finds
    values = ctx.logits_of(embed, teacher_ptm, data)
    if values.ndim != 2 or values.shape[0] != len(data):
        raise MethodError(f"teacher features of shape {tuple(values.shape)} on {len(data)} "
                          "examples; expected one vector per example")
    return values.detach().float().to(ctx.device).clone()  # not an inference-mode tensor
