import pytest

from daemon_helpers import Reaper


@pytest.fixture
def reap():
    r = Reaper()
    yield r
    r.kill_all()
