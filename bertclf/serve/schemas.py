"""The request and response bodies of the HTTP API, as pydantic models: FastAPI validates
requests with them and writes the OpenAPI schema from them."""

from __future__ import annotations

from typing import Any, Literal

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
    explain: bool = Field(False, description="Add each text's explanation: the words that pushed it most "
                                             "toward its label and against it (at most 64 texts a request).")
    explain_k: int = Field(5, ge=1, le=100, description="Words each way, with explain.")
    explain_method: Literal["auto", "occlusion", "tokens", "guided"] = Field(
        "auto", description="auto (occlusion), occlusion (a model call per word), tokens (one encoder "
                            "pass, less faithful) or guided (occlusion of the words the token shares rate "
                            "strongest).")


class Score(BaseModel):
    label: str
    score: float


class Word(BaseModel):
    word: str
    weight: float = Field(..., description="How much the label's probability falls without the word "
                                           "(TF-IDF models: the n-gram's share of the label's score).")
    start: int | None = Field(None, description="Character offset of the word in its text.")
    end: int | None = None
    side: str | None = Field(None, description="'text' or 'pair' for models of sentence pairs; 'metadata' "
                                               "for the metadata columns taken as a whole.")


class Explanation(BaseModel):
    label: str
    probability: float
    for_: list[Word] = Field(..., alias="for", description="The words that pushed most toward the label.")
    against: list[Word] = Field(..., description="The words that pushed most against it.")
    method: str = Field(..., description="'occlusion' (words taken out in turn), 'tfidf-weights' (exact), "
                                         "'tokens' or 'guided'.")
    cut: bool = Field(..., description="The text was longer than the model reads: only what it read is "
                                       "explained.")
    chunk: dict[str, Any] | None = Field(
        None, description="A model reading long texts in windows: the window that weighed most (index, of, "
                          "start, end, weight); its words are the ones explained.")


class Prediction(BaseModel):
    label: str | None = Field(None, description="The best label (one label per text).")
    labels: list[str] | None = Field(None, description="Labels over their tuned thresholds (multi-label).")
    scores: list[Score] = Field(..., description="Every label's probability, best first (or the top K).")
    explanation: list[Explanation] | None = Field(
        None, description="With explain: one entry per predicted label.")


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
    """OpenAI's embeddings request, as its SDKs send it (``encoding_format`` base64 by default)."""

    input: str | list[str] | list[int] | list[list[int]] = Field(
        ..., description="A text or a list of texts. Token ids (OpenAI's tokenizer) are refused: this model "
                         "reads text with its own.")
    model: str | None = Field(None, description="A served model's name; optional when one is served.")
    encoding_format: str = Field("float", description="'float', or 'base64': little-endian float32 bytes.")
    dimensions: int | None = Field(None, description="The model's own dimension, or leave it out (its "
                                                     "vectors were not trained to be cut shorter).")
    user: str | None = Field(None, description="Accepted and ignored.")


class OpenAIEmbedding(BaseModel):
    object: str = "embedding"
    index: int
    embedding: list[float] | str = Field(..., description="Floats, or base64 of little-endian float32.")


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingResponse(BaseModel):
    object: str = "list"
    model: str
    data: list[OpenAIEmbedding]
    usage: OpenAIUsage


class OpenAIError(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = Field(None, description="bertclf's type of the error (model_not_found, ...).")


class OpenAIErrorResponse(BaseModel):
    error: OpenAIError


class TEIOptions(BaseModel):
    """What text-embeddings-inference's requests may say beside the inputs."""

    truncate: bool | None = Field(None, description="false: refuse a text over the model's token budget "
                                                    "(bertclf otherwise reads it as the model was trained).")
    truncation_direction: str | None = Field(None, description="Right only: the model reads a text's start.")
    model: str | None = Field(None, description="bertclf: the served model, when several are served.")


class TEIEmbedRequest(TEIOptions):
    inputs: str | list[str]
    normalize: bool = Field(True, description="L2-normalise each vector (TEI's default).")
    prompt_name: str | None = Field(None, description="Refused: bertclf models have no prompts.")
    dimensions: int | None = Field(None, description="The model's own dimension only.")
    encoding_format: str | None = Field(None, description="float only.")


class TEIPredictRequest(TEIOptions):
    inputs: str | list[str] | list[list[str]] = Field(
        ..., description="A text, a list of texts, or (pair models) [text, pair] lists.")
    raw_scores: bool = Field(False, description="Scores before the last activation (see /v1/predict).")


class TEIRootRequest(TEIEmbedRequest):
    """``POST /``: TEI's root. A body with ``parameters`` (the Inference API's task shape, as
    huggingface_hub's ``text_classification`` sends it) or ``raw_scores`` is a prediction;
    any other an embedding (``feature_extraction``)."""

    inputs: str | list[str] | list[list[str]]
    raw_scores: bool | None = None
    parameters: dict[str, Any] | None = Field(
        None, description="Text classification: top_k, function_to_apply (softmax, sigmoid or none).")


class TEIInfo(BaseModel):
    """``GET /info``, in text-embeddings-inference's shape."""

    model_id: str
    model_sha: str | None = None
    model_dtype: str
    model_type: dict[str, Any]
    max_concurrent_requests: int
    max_input_length: int
    max_batch_tokens: int | None
    max_batch_requests: int | None = None
    max_client_batch_size: int
    auto_truncate: bool
    tokenization_workers: int
    version: str
    sha: str | None = None
    docker_label: str | None = None


class TEIError(BaseModel):
    error: str
    error_type: str


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


class OpenAIModel(ModelInfo):
    """A served model in OpenAI's shape (``id``, ``object``, ``created``, ``owned_by``), bertclf's
    details beside them."""

    id: str
    object: str = "model"
    created: int = Field(..., description="When the model was trained, in seconds since 1970.")
    owned_by: str = "bertclf"


class ModelList(BaseModel):
    object: str = "list"
    data: list[OpenAIModel]


class ErrorResponse(BaseModel):
    error: str
    type: str
