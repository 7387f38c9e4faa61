"""Shared by the assistant benchmarks (engine env): train a Rasa NLU model from bot/config.yml, parse with it.

Both benchmarks use the pipeline exactly as the bot does (same config file, same components), trained
through Rasa's own entry point, so what is measured is what runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "bot" / "config.yml"

# Rasa imports bot.components.* by module path, relative to the repo root.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)


def _quiet_structlog() -> None:
    """Rasa 3.6 logs every parse through structlog at debug level; a benchmark parses thousands."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


_quiet_structlog()


def ngram_features():  # type: ignore[no-untyped-def]
    """scikit-learn's version of the pipeline's intent features: word 1-2 grams and character 2-5 grams inside word
    boundaries, sublinear tf-idf (for the quick stand-ins in assistant_learning_curve.py and --ceiling)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    return make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True),
    )


def linear_intent_model(class_weight: str | None = None):  # type: ignore[no-untyped-def]
    """The bot's intent classifier (bot/config.yml) as a plain scikit-learn model: logistic loss by SGD."""
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(
        loss="log_loss", alpha=1e-5, max_iter=40, tol=None, random_state=2001, class_weight=class_weight
    )


def train_nlu(nlu_file: Path, out_dir: Path, config: Path = CONFIG) -> tuple[Path, float]:
    """Train an NLU-only model; returns its path and the wall-clock seconds it took."""
    from rasa.model_training import train_nlu as rasa_train_nlu

    started = time.perf_counter()
    model = rasa_train_nlu(str(config), str(nlu_file), str(out_dir), fixed_model_name="nlu")
    seconds = time.perf_counter() - started
    if not model:
        raise RuntimeError("Rasa did not produce a model")
    return Path(model), seconds


def parse_all(model: Path, texts: Iterable[str]) -> list[dict[str, Any]]:
    """Rasa's parse of every text (intent, ranking, entities after every extractor and synonyms)."""
    from rasa.core.agent import Agent

    async def run() -> list[dict[str, Any]]:
        agent = Agent.load(str(model))
        return [await agent.parse_message(text) for text in texts]

    return asyncio.run(run())
