"""schemathesis against ``/openapi.json``: requests made up from the schema (valid and not) get
no server error, a status the schema lists, and a body that matches the schema for it."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bertclf import Embedder, TextClassifier  # noqa: E402
from tests.conftest import LABELS, TEXTS  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api(tiny_model, tmp_path_factory):
    from bertclf.serve import create_app

    path = tmp_path_factory.mktemp("schema") / "topics"
    TextClassifier(Embedder(model=tiny_model), reuse_embeddings=False).fit(TEXTS, LABELS).save(path)
    app = create_app([path], max_batch_texts=16)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_answer_matches_the_schema_and_none_is_a_server_error(api):
    operations = [result.ok() for result in api.get_all_operations()]
    paths = {op.path for op in operations}
    assert paths >= {"/v1/predict", "/v1/embed", "/v1/embeddings", "/predict", "/embed", "/v1/models",
                     "/v1/models/{model_id}", "/", "/info"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers(case):
            case.call_and_validate(checks=CHECKS)

        answers()
