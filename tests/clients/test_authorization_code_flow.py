"""The first-time authorization-code flow against the sandbox: state checked, token stored."""

from __future__ import annotations

import socket
import threading

import pytest
import requests

from api_clients.errors import ApiError
from api_clients.oauth_flow import connect, new_state
from api_clients.providers import make_client
from configuration.settings import ProviderSettings
from sync.resources import scopes_of
from tests.helpers.api import MemoryTokenStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _provider(sandbox, name):
    creds = sandbox.whoop_credentials if name == "whoop" else sandbox.withings_credentials
    return ProviderSettings(
        name,
        creds.api_base_url,
        creds.auth_base_url,
        f"http://127.0.0.1:{_free_port()}/callback",
        creds.client_id,
        creds.client_secret,
    )


class _Printed:
    """What `connect` prints, line by line; `url()` waits for the line with the authorization URL."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def append(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def url(self, timeout: float = 20) -> str:
        def found():
            return next((line for line in self.lines if line.startswith("http")), None)

        with self._changed:
            self._changed.wait_for(found, timeout)
            assert found(), "connect printed no URL"
            return found()


def _run_connect(provider, store):
    lines, result = _Printed(), {}

    def target():
        try:
            result["token"] = connect(
                provider, store, scopes=scopes_of(provider.name), open_browser=False, timeout=20, print_fn=lines.append
            )
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, lines, result


def _wait_for_url(lines: _Printed) -> str:
    return lines.url()


@pytest.mark.parametrize("name, user_id", [("whoop", 10129), ("withings", 3141592)])
def test_connect_stores_a_token(sandbox, name, user_id):
    store = MemoryTokenStore()
    thread, lines, result = _run_connect(_provider(sandbox, name), store)
    url = _wait_for_url(lines)
    assert "state=" in url and ("offline" in url if name == "whoop" else "user.metrics" in url)
    assert requests.get(url, timeout=10).status_code == 200  # the sandbox approves and redirects back
    thread.join(20)
    assert "error" not in result, result
    assert store.load(name).refresh_token and store.load(name).user_id == user_id


def test_state_is_eight_characters():
    assert len(new_state()) == 8 and new_state() != new_state()


def test_whoop_authorization_url_requests_offline():
    provider = ProviderSettings(
        "whoop",
        "https://api.prod.whoop.com",
        "https://api.prod.whoop.com",
        "http://127.0.0.1:8765/callback",
        "cid",
        "secret",
    )
    url = make_client(provider, MemoryTokenStore()).authorization_url("abcdefgh")
    assert url.startswith("https://api.prod.whoop.com/oauth/oauth2/auth?") and "offline" in url
    assert "secret" not in url


# ---- the callback server: concurrent, bounded, and honest about the exchange ----------------


def test_an_idle_local_connection_does_not_block_the_redirect(sandbox):
    provider = _provider(sandbox, "withings")
    store = MemoryTokenStore()
    thread, lines, result = _run_connect(provider, store)
    url = _wait_for_url(lines)
    port = int(provider.redirect_uri.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port)):  # a preconnect that never sends a request
        assert requests.get(url, timeout=8).status_code == 200
    thread.join(20)
    assert "error" not in result, result
    assert store.load("withings").user_id == 3141592


def test_the_browser_hears_connected_only_after_the_exchange_worked(sandbox):
    provider = _provider(sandbox, "whoop")
    provider = ProviderSettings(
        provider.name,
        provider.api_base_url,
        provider.auth_base_url,
        provider.redirect_uri,
        provider.client_id,
        "a-wrong-client-secret",
    )
    store = MemoryTokenStore()
    thread, lines, result = _run_connect(provider, store)
    page = requests.get(_wait_for_url(lines), timeout=10)
    thread.join(20)
    assert page.status_code == 400 and "Connecting failed" in page.text and "Connected" not in page.text
    assert isinstance(result.get("error"), ApiError) and str(result["error"]).startswith("whoop: ")
    assert store.load("whoop") is None and "a-wrong-client-secret" not in page.text + str(result["error"])


@pytest.mark.parametrize(
    "name, token_url, answer",
    [
        ("whoop", "/oauth/oauth2/token", {"body": "<html>gateway</html>", "status": 200}),
        ("whoop", "/oauth/oauth2/token", {"json": {"token_type": "bearer"}}),
        ("withings", "/v2/oauth2", {"json": {"status": 0, "body": {"userid": "1"}}}),
        ("withings", "/v2/oauth2", {"json": {"status": 0, "body": "nonsense"}}),
    ],
)
def test_a_bad_token_response_is_one_line_naming_the_provider(mock, name, token_url, answer):
    from tests.helpers.api import provider as api_provider

    settings = api_provider(name)
    mock.post(settings.api_base_url + token_url, **answer)
    with pytest.raises(ApiError) as err:
        make_client(settings, MemoryTokenStore()).exchange_code("code-123")
    message = str(err.value)
    assert message.startswith(f"{name}: ") and "\n" not in message and "access_token'" not in message


def test_the_flow_holds_no_provider_knowledge():
    import inspect

    import api_clients.oauth_flow as flow

    source = inspect.getsource(flow)
    assert '"whoop"' not in source and '"withings"' not in source and "import requests" not in source
