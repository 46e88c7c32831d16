"""The request and response bodies of the HTTP API, as pydantic models: FastAPI validates
requests with them and writes the OpenAPI schema from them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PredictRequest(BaseModel):
    model: str | None = Field(None, description="A served model's name; optional when one is served.")
    texts: list[str] = Field(..., min_length=1, description="The texts to label.")
    pairs: list[str] | None = Field(None, description="Second texts, for models trained on pairs.")
    metadata: list[dict[str, Any]] | None = Field(
        None, description="One object per text with the model's metadata columns (and join key).")
    top_k: int | None = Field(None, ge=1, description="Only the K best labels per text.")
    raw_scores: bool = Field(False, description="Scores before the last activation instead of probabilities: "
                                                "log-odds (multi-label) or log-probabilities (single-label).")


class Score(BaseModel):
    label: str
    score: float


class Prediction(BaseModel):
    label: str | None = Field(None, description="The best label (one label per text).")
    labels: list[str] | None = Field(None, description="Labels over their tuned thresholds (multi-label).")
    scores: list[Score] = Field(..., description="Every label's probability, best first (or the top K).")


class Usage(BaseModel):
    texts: int
    tokens: int = Field(..., description="Tokens the encoder read (0 for TF-IDF models).")
    truncated: int = Field(..., description="Texts longer than the model's token budget, read as "
                                                    "it was trained (cut, or its long-text strategy).")


class PredictResponse(BaseModel):
    model: str
    predictions: list[Prediction]
    usage: Usage


class EmbedRequest(BaseModel):
    model: str | None = Field(None, description="A served model's name; optional when one is served.")
    texts: list[str] = Field(..., min_length=1)


class EmbedResponse(BaseModel):
    model: str
    embeddings: list[list[float]]
    dim: int
    usage: Usage


class OpenAIEmbeddingRequest(BaseModel):
    input: str | list[str] = Field(..., description="A text or a list of texts.")
    model: str | None = None
    encoding_format: str = Field("float", pattern="^float$", description="Only 'float'.")


class OpenAIEmbedding(BaseModel):
    object: str = "embedding"
    index: int
    embedding: list[float]


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingResponse(BaseModel):
    object: str = "list"
    model: str
    data: list[OpenAIEmbedding]
    usage: OpenAIUsage


class TEIEmbedRequest(BaseModel):
    inputs: str | list[str]
    normalize: bool = Field(True, description="L2-normalise each vector (TEI's default).")


class TEIPredictRequest(BaseModel):
    inputs: str | list[str] | list[list[str]] = Field(
        ..., description="A text, a list of texts, or (pair models) [text, pair] lists.")
    raw_scores: bool = Field(False, description="Scores before the last activation (see /v1/predict).")


class ModelInfo(BaseModel):
    name: str
    kind: str | None = None
    task: str
    approach: str | None = None
    labels: list[str]
    inputs: list[str] = Field(..., description="Every column the model reads, texts first.")
    text_column: str
    pair_column: str | None = None
    metadata_columns: list[str] = Field(default_factory=list, description="Metadata columns and join key.")
    encoder: str | None = None
    metrics: dict[str, Any] | None = None
    format_version: int | None = None
    bertclf_version: str | None = None


class ModelList(BaseModel):
    models: list[ModelInfo]


class ErrorResponse(BaseModel):
    error: str
    type: str
