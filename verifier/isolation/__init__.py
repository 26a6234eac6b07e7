"""Compiling and running untrusted components in a child process under OS limits (see
:mod:`verifier.isolation.analyser`; the child is :mod:`verifier.isolation.child`)."""

from verifier.isolation.analyser import (
    IsolatedAnalyser,
    IsolationLimitExceeded,
    Run,
)
from verifier.isolation.protocol import AnalyseJob, AnalyseResult

__all__ = ["AnalyseJob", "AnalyseResult", "IsolatedAnalyser", "IsolationLimitExceeded", "Run"]
