# The tests import the package built in the build tree (ctest sets PYTHONPATH=<build>/python).
import os

import pytest


@pytest.fixture
def bert_fixture_dir():
    return os.path.join(os.environ["MHA_FIXTURES_DIR"], "bert_tiny")
