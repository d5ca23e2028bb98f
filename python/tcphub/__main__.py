"""``python -m tcphub serve``: the same server as ``tcphub serve``.

The options, their environment variables and their defaults are those of
the binary; the server underneath is the same native code. Messages sent to
the host print on stdout as ``[alias] text``; logs go to stderr.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import sys
import threading
from typing import Any, Callable, Optional, Sequence, Tuple

from . import _tcphub
from ._errors import Error
from ._server import Server
from ._units import parse_bytes, parse_count, parse_duration, parse_optional_duration, parse_switch


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type whose error message is the parser's own."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = parse.__name__
    return convert


class _Given(argparse.Action):
    """Stores the value and notes that the flag was given, so that a flag
    with a default can still need another (as clap's `requires`, which a
    default does not set off but an environment variable does)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = getattr(namespace, "given", frozenset()) | {self.dest}


def _given(args: argparse.Namespace, dest: str, env: str) -> bool:
    return dest in getattr(args, "given", frozenset()) or env in os.environ


def _listen(text: str) -> Tuple[str, int]:
    """``127.0.0.1:9000`` or ``[::1]:9000``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{text!r} is not an address: expected HOST:PORT such as 127.0.0.1:9000")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tcphub",
        description="A TCP hub where named clients exchange JSON messages.",
        epilog="Every option can also be set by the environment variable shown next to it.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the hub",
        description="Run the hub until Ctrl-C or SIGTERM (the same server as `tcphub serve`).",
        epilog="Messages sent to the host (an `info` without `to`) are printed on stdout "
        "as `[alias] text`; logs go to stderr. With --observe, every message clients relay "
        "to each other is printed too, as `[Client-1 -> Client-2] text`, "
        "`[Client-1 -> #lobby] text` or `[Client-1 -> *] text` (a last will as "
        "`[Client-2 -> #lobby] (last will) text`); with --observe or --console, room joins "
        "and leaves as `Client-1 joined #lobby`. With --console, lines typed on stdin are "
        "host commands: `* text` or plain text broadcasts, `@alias text` sends to one "
        "alias, `#room text` to a room's members, `//text` broadcasts `/text`, `/list` "
        "shows the sessions and `/list ROOM` a room's members, `/rooms` the rooms, "
        "`/join SESSION_ID ROOM` puts a session in a room and `/leave SESSION_ID ROOM` takes "
        "it out, `/close SESSION_ID` closes one, `/reply REPLYTO MESSAGE` answers a request; "
        "any other `/command` is refused. A request to the host (a `request` without `to`) "
        "is printed as `[alias] (request 2.1) text`; with --console, `/reply 2.1 MESSAGE` "
        "answers it (MESSAGE: valid JSON is sent as that value, other text "
        "as text). Without --console nothing can answer, so such requests end with "
        "`request_timeout`.",
    )
    serve.add_argument("-l", "--listen", type=_typed(_listen), default=_env("TCPHUB_LISTEN", "127.0.0.1:9000"),
                       help="address to listen on (IPv6 too, e.g. [::1]:9000; port 0 picks a free port) "
                       "[env: TCPHUB_LISTEN] [default: 127.0.0.1:9000]")
    serve.add_argument("--alias-policy", choices=("takeover", "reject", "share"),
                       default=_env("TCPHUB_ALIAS_POLICY", "takeover"),
                       help="what happens when a client claims an alias another session holds "
                       "[env: TCPHUB_ALIAS_POLICY] [default: takeover]")
    serve.add_argument("--max-frame-bytes", type=_typed(parse_bytes), default=_env("TCPHUB_MAX_FRAME_BYTES", "64KiB"),
                       help="largest frame a client may send (e.g. 65536, 64KiB, 1M; 256 bytes to 16MiB); a "
                       "larger one closes that session [env: TCPHUB_MAX_FRAME_BYTES] [default: 64KiB]")
    serve.add_argument("--max-sessions", type=_typed(parse_count), default=_env("TCPHUB_MAX_SESSIONS", "100000"),
                       help="most sessions open at once (1 to 1073741824); a connection beyond that is told "
                       "`too_many_sessions` and closed [env: TCPHUB_MAX_SESSIONS] [default: 100000]")
    serve.add_argument("--idle-timeout", type=_typed(parse_optional_duration),
                       default=_env("TCPHUB_IDLE_TIMEOUT", "off"),
                       help="close sessions that send nothing for this long (e.g. 30s, 5m; off or inf) "
                       "[env: TCPHUB_IDLE_TIMEOUT] [default: off]")
    serve.add_argument("--relay", type=_typed(parse_switch), metavar="on|off", default=_env("TCPHUB_RELAY", "on"),
                       help="let clients send to each other (on) or only to the host (off) "
                       "[env: TCPHUB_RELAY] [default: on]")
    serve.add_argument("--max-queued-bytes", type=_typed(parse_bytes), default=_env("TCPHUB_MAX_QUEUED_BYTES", "64MiB"),
                       help="hard cap on unsent bytes for one session, however fast it reads; past it the "
                       "session is closed as a slow consumer (e.g. 64MiB; at least 512KiB plus "
                       "--max-frame-bytes, at most 1TiB). Senders filling a session's queue are paused "
                       "long before that [env: TCPHUB_MAX_QUEUED_BYTES] [default: 64MiB]")
    serve.add_argument("--write-deadline", type=_typed(parse_optional_duration),
                       default=_env("TCPHUB_WRITE_DEADLINE", "10s"),
                       help="close a session as a slow consumer when nothing queued for it could be "
                       "written for this long (e.g. 10s; off never does) "
                       "[env: TCPHUB_WRITE_DEADLINE] [default: 10s]")
    serve.add_argument("--frame-timeout", type=_typed(parse_optional_duration),
                       default=_env("TCPHUB_FRAME_TIMEOUT", "30s"),
                       help="close a session with `frame_timeout` when one frame takes longer than this "
                       "from its first byte to its last (e.g. 30s; off never does) "
                       "[env: TCPHUB_FRAME_TIMEOUT] [default: 30s]")
    serve.add_argument("--max-list-rows", type=_typed(parse_count), default=_env("TCPHUB_MAX_LIST_ROWS", "1000"),
                       help="most rows in one `list` reply; clients page through the rest (1 to 100000) "
                       "[env: TCPHUB_MAX_LIST_ROWS] [default: 1000]")
    serve.add_argument("--shutdown-grace", type=_typed(parse_duration), default=_env("TCPHUB_SHUTDOWN_GRACE", "5s"),
                       help="on Ctrl-C or SIGTERM, how long to flush queued messages before exiting "
                       "(longer than zero; inf waits as long as it takes) "
                       "[env: TCPHUB_SHUTDOWN_GRACE] [default: 5s]")
    serve.add_argument("--max-rooms-per-session", type=_typed(parse_count),
                       default=_env("TCPHUB_MAX_ROOMS_PER_SESSION", "64"),
                       help="most rooms one session may be in at once (1 to 100000); one more `join` "
                       "gets `too_many_rooms` [env: TCPHUB_MAX_ROOMS_PER_SESSION] [default: 64]")
    serve.add_argument("--max-watched-aliases", type=_typed(parse_count),
                       default=_env("TCPHUB_MAX_WATCHED_ALIASES", "1000"),
                       help="most aliases one session may watch by name (1 to 100000); a `watch` past "
                       "it gets `too_many_watches` [env: TCPHUB_MAX_WATCHED_ALIASES] [default: 1000]")
    serve.add_argument("--max-last-will-bytes", type=_typed(parse_bytes),
                       default=_env("TCPHUB_MAX_LAST_WILL_BYTES", "4KiB"),
                       help="largest last will a client may leave, in bytes of its message (e.g. 4KiB; "
                       "1 byte to 16MiB). A will is held for its whole session "
                       "[env: TCPHUB_MAX_LAST_WILL_BYTES] [default: 4KiB]")
    serve.add_argument("--request-timeout", metavar="D", type=_typed(parse_duration),
                       default=_env("TCPHUB_REQUEST_TIMEOUT", "5s"),
                       help="how long a `request` that names no timeout waits for its reply before its "
                       "sender is told `request_timeout` (e.g. 5s; at least 1ms) "
                       "[env: TCPHUB_REQUEST_TIMEOUT] [default: 5s]")
    serve.add_argument("--max-request-timeout", metavar="D", type=_typed(parse_duration),
                       default=_env("TCPHUB_MAX_REQUEST_TIMEOUT", "60s"),
                       help="the longest wait a `request` may ask for; longer ones are cut to it "
                       "[env: TCPHUB_MAX_REQUEST_TIMEOUT] [default: 60s]")
    serve.add_argument("--max-pending-requests", metavar="N", type=_typed(parse_count),
                       default=_env("TCPHUB_MAX_PENDING_REQUESTS", "64"),
                       help="most requests one session may have waiting for replies (1 to 100000); one "
                       "more gets `too_many_requests` [env: TCPHUB_MAX_PENDING_REQUESTS] [default: 64]")
    serve.add_argument("--rate-limit-messages", metavar="N", type=_typed(parse_count),
                       default=os.environ.get("TCPHUB_RATE_LIMIT_MESSAGES"),
                       help="frames each session may send per second (every frame but `bye` counts; 1 to "
                       "1000000000); one over gets `rate_limited`, and a session refused more than 100 "
                       "times in 10 s is closed. Off by default [env: TCPHUB_RATE_LIMIT_MESSAGES]")
    serve.add_argument("--rate-limit-message-burst", metavar="N", type=_typed(parse_count),
                       default=os.environ.get("TCPHUB_RATE_LIMIT_MESSAGE_BURST"),
                       help="frames a session may send at once after a quiet spell (default: one "
                       "second's worth); needs --rate-limit-messages [env: TCPHUB_RATE_LIMIT_MESSAGE_BURST]")
    serve.add_argument("--rate-limit-bytes", metavar="SIZE", type=_typed(parse_bytes),
                       default=os.environ.get("TCPHUB_RATE_LIMIT_BYTES"),
                       help="bytes each session may send per second (e.g. 1MiB; 1 byte to 1TiB); a frame "
                       "over it gets `rate_limited`. Off by default [env: TCPHUB_RATE_LIMIT_BYTES]")
    serve.add_argument("--rate-limit-bytes-burst", metavar="SIZE", type=_typed(parse_bytes),
                       default=os.environ.get("TCPHUB_RATE_LIMIT_BYTES_BURST"),
                       help="bytes a session may send at once after a quiet spell (default: one second's "
                       "worth, at least --max-frame-bytes, which is also the least accepted); needs "
                       "--rate-limit-bytes [env: TCPHUB_RATE_LIMIT_BYTES_BURST]")
    serve.add_argument("--max-connections-per-address", metavar="N", type=_typed(parse_count),
                       default=os.environ.get("TCPHUB_MAX_CONNECTIONS_PER_ADDRESS"),
                       help="most sessions open at once from one IP address; one more is told "
                       "`too_many_connections` and closed. Off by default "
                       "[env: TCPHUB_MAX_CONNECTIONS_PER_ADDRESS]")
    serve.add_argument("--cluster", metavar="URL", default=os.environ.get("TCPHUB_CLUSTER"),
                       help="join a cluster: several nodes sharing this Redis act as one hub (e.g. "
                       "redis://127.0.0.1:6379). Without it, nothing touches the network but the "
                       "listener. Redis unreachable at start exits 1 [env: TCPHUB_CLUSTER]")
    serve.add_argument("--node-id", default=os.environ.get("TCPHUB_NODE_ID"),
                       help="this node's id in the cluster: 1 to 32 ASCII letters, digits, `-` or `_`, "
                       "unique among the nodes (default: short host name, process id and four random "
                       "hex digits) [env: TCPHUB_NODE_ID]")
    serve.add_argument("--cluster-lease", type=_typed(parse_duration), default=_env("TCPHUB_CLUSTER_LEASE", "10s"),
                       help="how long a node that died without leaving keeps its aliases (e.g. 10s; 300ms "
                       "to 1h); the lease is refreshed every third of it "
                       "[env: TCPHUB_CLUSTER_LEASE] [default: 10s]")
    serve.add_argument("--cluster-name", default=_env("TCPHUB_CLUSTER_NAME", "tcphub"),
                       help="the cluster's name, so several clusters can share one Redis (keys live under "
                       "`tcphub:{NAME}:`) [env: TCPHUB_CLUSTER_NAME] [default: tcphub]")
    serve.add_argument("--tls-cert", metavar="PEM", default=os.environ.get("TCPHUB_TLS_CERT"),
                       help="speak TLS, with this certificate chain (PEM, leaf first); needs --tls-key. "
                       "Clients then connect with `--tls` (and `--ca`) [env: TCPHUB_TLS_CERT]")
    serve.add_argument("--tls-key", metavar="PEM", default=os.environ.get("TCPHUB_TLS_KEY"),
                       help="the TLS certificate's private key (PEM); needs --tls-cert [env: TCPHUB_TLS_KEY]")
    serve.add_argument("--tls-handshake-timeout", type=_typed(parse_duration),
                       default=_env("TCPHUB_TLS_HANDSHAKE_TIMEOUT", "10s"),
                       help="close a TLS connection whose handshake is not done in this time (e.g. 10s); "
                       "until then it holds no session [env: TCPHUB_TLS_HANDSHAKE_TIMEOUT] [default: 10s]")
    serve.add_argument("--auth", metavar="FILE", default=os.environ.get("TCPHUB_AUTH"),
                       help="aliases need a credential: the secret listed for them, hashed, in this TOML "
                       "file (see tcphub.hash_secret and docs/security.md). A file with any mistake exits 1 "
                       "before listening; SIGHUP reads it again (a file with a mistake is then "
                       "refused and the previous one stays) [env: TCPHUB_AUTH]")
    serve.add_argument("--auth-jwt-key", metavar="FILE", default=os.environ.get("TCPHUB_AUTH_JWT_KEY"),
                       help="aliases need a credential: a JWT whose `sub` is the alias, checked with this "
                       "key: the HS256 secret, or the EdDSA/RS256 public key (PEM). Needs "
                       "--auth-jwt-algorithm [env: TCPHUB_AUTH_JWT_KEY]")
    serve.add_argument("--auth-jwt-algorithm", metavar="hs256|eddsa|rs256",
                       default=os.environ.get("TCPHUB_AUTH_JWT_ALGORITHM"),
                       help="the one algorithm JWTs may be signed with [env: TCPHUB_AUTH_JWT_ALGORITHM]")
    serve.add_argument("--auth-jwt-audience", metavar="AUD", default=os.environ.get("TCPHUB_AUTH_JWT_AUDIENCE"),
                       help="refuse JWTs whose `aud` does not name this (without it, a JWT with any `aud` "
                       "is refused: it was meant for someone else) [env: TCPHUB_AUTH_JWT_AUDIENCE]")
    serve.add_argument("--auth-jwt-issuer", metavar="ISS", default=os.environ.get("TCPHUB_AUTH_JWT_ISSUER"),
                       help="refuse JWTs whose `iss` is not this [env: TCPHUB_AUTH_JWT_ISSUER]")
    serve.add_argument("--auth-jwt-leeway", metavar="D", type=_typed(parse_duration), action=_Given,
                       default=_env("TCPHUB_AUTH_JWT_LEEWAY", "5s"),
                       help="how far a JWT's `exp` and `nbf` may be off, for clocks that disagree (0s to "
                       "10m); needs --auth-jwt-key [env: TCPHUB_AUTH_JWT_LEEWAY] [default: 5s]")
    serve.add_argument("--auth-timeout", metavar="D", type=_typed(parse_duration), action=_Given,
                       default=_env("TCPHUB_AUTH_TIMEOUT", "10s"),
                       help="how long a credential may take to be checked before the client is told "
                       "`unauthorized` (1ms to 1h); needs --auth or --auth-jwt-key "
                       "[env: TCPHUB_AUTH_TIMEOUT] [default: 10s]")
    serve.add_argument("--metrics", metavar="ADDR", default=os.environ.get("TCPHUB_METRICS"),
                       help="serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9100); "
                       "`tcphub stats --metrics ADDR` shows them [env: TCPHUB_METRICS]")
    serve.add_argument("--observe", action="store_true", default=parse_switch(_env("TCPHUB_OBSERVE", "off")),
                       help="print every message clients relay to each other (to an alias, a room or *, "
                       "last wills included) on stdout [env: TCPHUB_OBSERVE]")
    serve.add_argument("--console", action="store_true", default=parse_switch(_env("TCPHUB_CONSOLE", "off")),
                       help="read host commands from stdin (see below) [env: TCPHUB_CONSOLE]")
    serve.add_argument("-v", "--verbose", action="count", default=0,
                       help="more log detail: -v debug (one line per message), -vv trace; RUST_LOG wins")
    serve.add_argument("--log-format", choices=("human", "json"), default=_env("TCPHUB_LOG_FORMAT", "human"),
                       help="log line format on stderr [env: TCPHUB_LOG_FORMAT] [default: human]")
    return parser


def message_text(message: Any) -> str:
    """A message as the binary prints it: a string as its text, anything
    else as JSON, so that what is shown reads back as what was sent. A
    string whose text would itself read as JSON (``"null"``, ``"42"``) is
    shown quoted, as are an empty one and one with a control character."""
    if isinstance(message, str) and not _needs_quotes(message):
        return message
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def typed_message(text: str) -> Any:
    """A message typed as a command's argument, as the binary reads it:
    valid JSON is sent as that value, any other text as text."""
    try:
        return json.loads(text.strip(), parse_constant=_not_json)
    except ValueError:
        return text


def _needs_quotes(text: str) -> bool:
    if not text.strip() or any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        return True
    try:
        # As serde_json reads it: NaN and Infinity are not JSON.
        json.loads(text, parse_constant=_not_json)
    except ValueError:
        return False
    return True


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def event_line(event: _tcphub.Event, show_rooms: bool) -> Optional[str]:
    """The stdout line for one event, as the binary prints it, if it gets one."""
    alias = getattr(event, "alias", None)
    name = alias if alias is not None else event.session_id
    if isinstance(event, _tcphub.Message):
        return f"[{name}] {message_text(event.message)}"
    if isinstance(event, _tcphub.Request):
        return f"[{name}] (request {event.reply_to}) {message_text(event.message)}"
    if isinstance(event, _tcphub.Relayed):
        target = event.target
        if isinstance(target, _tcphub.Room):
            where = f"#{target.name}"
        elif isinstance(target, _tcphub.Alias):
            where = target.name
        else:
            where = "*"
        will = "(last will) " if event.last_will else ""
        return f"[{name} -> {where}] {will}{message_text(event.message)}"
    if show_rooms and isinstance(event, _tcphub.Joined):
        return f"{name} joined #{event.room}"
    if show_rooms and isinstance(event, _tcphub.Left):
        return f"{name} left #{event.room}"
    return None


def serve(args: argparse.Namespace) -> int:
    _tcphub.init_logging(args.verbose, args.log_format)
    host, port = args.listen
    try:
        hub = Server(
            host,
            port,
            alias_policy=args.alias_policy,
            max_frame_bytes=args.max_frame_bytes,
            max_sessions=args.max_sessions,
            idle_timeout=args.idle_timeout,
            relay=args.relay,
            max_queued_bytes=args.max_queued_bytes,
            write_deadline=args.write_deadline,
            frame_timeout=args.frame_timeout,
            max_list_rows=args.max_list_rows,
            max_rooms_per_session=args.max_rooms_per_session,
            max_watched_aliases=args.max_watched_aliases,
            max_last_will_bytes=args.max_last_will_bytes,
            rate_limit_messages=args.rate_limit_messages,
            rate_limit_message_burst=args.rate_limit_message_burst,
            rate_limit_bytes=args.rate_limit_bytes,
            rate_limit_bytes_burst=args.rate_limit_bytes_burst,
            max_connections_per_address=args.max_connections_per_address,
            observe=args.observe,
            shutdown_grace=args.shutdown_grace,
            cluster=args.cluster,
            node_id=args.node_id,
            cluster_lease=args.cluster_lease,
            cluster_name=args.cluster_name,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_handshake_timeout=args.tls_handshake_timeout,
            auth_timeout=args.auth_timeout,
            auth_file=args.auth,
            auth_jwt_key=args.auth_jwt_key,
            auth_jwt_algorithm=args.auth_jwt_algorithm,
            auth_jwt_audience=args.auth_jwt_audience,
            auth_jwt_issuer=args.auth_jwt_issuer,
            # The flag always has a value (its default); the option only
            # means something with a key.
            auth_jwt_leeway=args.auth_jwt_leeway if args.auth_jwt_key is not None else None,
            metrics=args.metrics,
            request_timeout=args.request_timeout,
            max_request_timeout=args.max_request_timeout,
            max_pending_requests=args.max_pending_requests,
        )
    except Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    with hub:
        try:
            # SIGTERM stops the hub as Ctrl-C does. Installed before the ready
            # line, and inside the try, so a signal right after it is clean.
            signal.signal(signal.SIGTERM, _raise_interrupt)
            if args.auth is not None and hasattr(signal, "SIGHUP"):
                # Only with a file to read again: otherwise SIGHUP stops
                # the server, as it does the binary.
                signal.signal(signal.SIGHUP, lambda signum, frame: _reload_auth_file(hub))
            listen_host, listen_port = hub.address
            shown = f"[{listen_host}]" if ":" in listen_host else listen_host
            # Before the ready line, so whoever waits for that line has seen it.
            if args.auth is None and args.auth_jwt_key is None and not ipaddress.ip_address(listen_host).is_loopback:
                sys.stderr.write(
                    "warning: listening beyond loopback without authentication: anyone who can reach "
                    "this port can claim any alias; turn it on with --auth FILE or --auth-jwt-key FILE "
                    "(see docs/security.md)\n"
                )
            if hub.metrics_address is not None:
                metrics_host, metrics_port = hub.metrics_address
                sys.stderr.write(f"metrics on http://{metrics_host}:{metrics_port}/metrics\n")
            # One write, so the line never interleaves with the native log lines.
            sys.stderr.write(
                f"tcphub {_tcphub.__version__} listening on {shown}:{listen_port}; stop with Ctrl-C\n"
            )
            sys.stderr.flush()
            if args.console:
                threading.Thread(target=_console, args=(hub,), name="tcphub-console", daemon=True).start()
            # Joins and leaves are for someone watching: the console's user,
            # or one who asked to observe.
            show_rooms = args.console or args.observe
            for event in hub.events():
                line = event_line(event, show_rooms)
                if line is not None:
                    print(line, flush=True)
        except KeyboardInterrupt:
            pass
    return 0


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _reload_auth_file(hub: Server) -> None:
    """On SIGHUP: the auth file read again, or the previous one kept."""
    try:
        aliases = hub.reload_auth_file()
    except Error as e:
        print(f"auth file not reloaded, the previous one stays: {e}", file=sys.stderr, flush=True)
    else:
        print(f"auth file reloaded: {aliases} aliases", file=sys.stderr, flush=True)


def _console(hub: Server) -> None:
    """Host commands typed on stdin."""
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        try:
            words = line.split()
            if line == "/list":
                for row in hub.sessions():
                    print(f"{row.session_id}\t{row.alias or '-'}", flush=True)
            elif words[0] == "/list" and len(words) == 2:
                rows = hub.room_members(words[1])
                if not rows:
                    print(f"no session is in room {words[1]!r}", file=sys.stderr, flush=True)
                for row in rows:
                    print(f"{row.session_id}\t{row.alias or '-'}", flush=True)
            elif line == "/rooms":
                for room, members in hub.rooms().items():
                    print(f"#{room}\t{members}", flush=True)
            elif words[0] in ("/join", "/leave") and len(words) == 3:
                _, session_id, room = words
                if words[0] == "/join" and not hub.join_room(session_id, room):
                    print(f"{session_id} is in room {room!r} already", file=sys.stderr, flush=True)
                if words[0] == "/leave" and not hub.leave_room(session_id, room):
                    print(f"{session_id} is not in room {room!r}", file=sys.stderr, flush=True)
            elif line.startswith("#"):
                room, _, text = line[1:].partition(" ")
                hub.send_to_room(room, text.lstrip())
            elif words[0] == "/reply" and len(words) >= 3:
                reply_to, text = line.split(None, 2)[1:]
                hub.reply(reply_to, typed_message(text))
            elif line.startswith("/close "):
                hub.close_session(line[len("/close "):].strip())
            elif line.startswith("@"):
                alias, _, text = line[1:].partition(" ")
                hub.send(alias, text.lstrip())
            elif line.startswith("//"):
                hub.broadcast(line[1:])
            elif line.startswith("/"):
                # A mistyped command is refused, never broadcast (as the
                # binary's console does).
                print(_unknown_command(words[0]), file=sys.stderr, flush=True)
            else:
                hub.broadcast(line[2:] if line.startswith("* ") else line)
        except Error as e:
            print(f"error: {e}", file=sys.stderr, flush=True)


_CONSOLE_COMMANDS = (
    "/list [ROOM]",
    "/rooms",
    "/join SESSION_ID ROOM",
    "/leave SESSION_ID ROOM",
    "/close SESSION_ID",
    "/reply REPLYTO MESSAGE",
)


def _unknown_command(name: str) -> str:
    """The binary's words for a console line it cannot take: a known
    command's usage when its arguments are wrong, else the commands."""
    for command in _CONSOLE_COMMANDS:
        if command.split()[0] == name:
            return f"usage: `{command}`"
    known = ", ".join(f"`{c}`" for c in _CONSOLE_COMMANDS)
    return f"unknown command `{name}`; the commands are {known} (type `//text` to send text starting with `/`)"


def _check_auth_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """As the binary: usage errors (status 2) for flags that do not go together."""
    if args.auth is not None and args.auth_jwt_key is not None:
        parser.error("--auth and --auth-jwt-key are two ways to check credentials: give one")
    if args.auth_jwt_key is not None and args.auth_jwt_algorithm is None:
        parser.error("--auth-jwt-key needs --auth-jwt-algorithm")
    for flag in ("auth_jwt_algorithm", "auth_jwt_audience", "auth_jwt_issuer"):
        if getattr(args, flag) is not None and args.auth_jwt_key is None:
            parser.error(f"--{flag.replace('_', '-')} needs --auth-jwt-key")
    if _given(args, "auth_jwt_leeway", "TCPHUB_AUTH_JWT_LEEWAY") and args.auth_jwt_key is None:
        parser.error("--auth-jwt-leeway needs --auth-jwt-key")
    if _given(args, "auth_timeout", "TCPHUB_AUTH_TIMEOUT") and args.auth is None and args.auth_jwt_key is None:
        parser.error("--auth-timeout needs --auth or --auth-jwt-key")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve" and (args.tls_cert is None) != (args.tls_key is None):
        # As the binary: a usage error (status 2) naming the missing option.
        given, missing = ("--tls-cert", "--tls-key") if args.tls_key is None else ("--tls-key", "--tls-cert")
        parser.error(f"{given} needs {missing}")
    if args.command == "serve":
        _check_auth_flags(parser, args)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
