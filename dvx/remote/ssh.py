"""What an SSH connection takes beyond the URL, where asyncssh's defaults differ from what
`ssh` does with the same settings:

    check_keyfile(path)         a `keyfile`, and the public key and certificate beside it,
                                checked before asyncssh reads them (option_files)
    keyfile_args(path)          a `keyfile` protected by a passphrase (which dvx has no way to
                                ask for) signs through ssh-agent's copy of it, as `ssh -i` does
    jump_hosts(host, ...)       the ProxyJump hosts ~/.ssh/config names for a host, connected
                                to with the remote's own host-key check, timeouts and
                                keep-alive; a jump host refused is named (jump_host_of)
    config_options(host, ...)   ~/.ssh/config applied to a host, as asyncssh applies it
"""

from __future__ import annotations

from typing import Any

from dvx.logs import get_logger
from dvx.remote.option_files import check_option_file

log = get_logger(__name__)

# The files asyncssh (as ssh) reads beside a private key when there: what each holds.
KEYFILE_COMPANIONS = {".pub": "public key", "-cert.pub": "certificate"}


def check_keyfile(path: str) -> None:
    """An OSError naming the file unless the `keyfile` at `path` and those of its
    companions that are there are regular files of a plausible size (check_option_file)."""
    check_option_file(path)
    for suffix in KEYFILE_COMPANIONS:
        try:
            check_option_file(path + suffix)
        except FileNotFoundError:
            continue  # none there (or a dangling link, which asyncssh fails to open too)


def config_options(host: str, port: str | int | None, user: str | None) -> Any | None:
    """asyncssh's connection options for `host` with ~/.ssh/config applied (HostName, Port,
    HostKeyAlias, ProxyJump), as its connect applies them, with no key, agent or known_hosts
    file loaded. None when the config cannot be read (an invalid one, another asyncssh): a
    message then names the URL's host, and asyncssh's own connect says what is wrong."""
    import asyncssh

    try:
        return asyncssh.SSHClientConnectionOptions(  # config=(): ~/.ssh/config, as connect's
            config=(), host=host, port=int(port) if port else (), username=user or (),
            known_hosts=None, client_keys=None, agent_path=None)  # none of them loaded
    except Exception as exc:
        log.debug("~/.ssh/config not applied to %s: %s: %s", host, type(exc).__name__, exc)
        return None


class KeyfileNeedsAgent(Exception):
    """The remote's `keyfile` is protected by a passphrase, which dvx has no way to ask for,
    so the login goes through ssh-agent's copy of the key; `why` that did not work, `fix`
    the first thing to do about it."""

    def __init__(self, path: str, why: str, fix: str) -> None:
        super().__init__(why)
        self.path, self.why, self.fix = path, why, fix


def keyfile_args(path: str) -> dict[str, Any]:
    """asyncssh's arguments for the `keyfile` option. asyncssh refuses to load a key
    protected by a passphrase without one: such a key signs through ssh-agent instead, its
    copy there found by the key's public half, as `ssh -i` does (the other keys of the agent
    are not offered)."""
    import asyncssh

    try:
        asyncssh.read_private_key(path)  # an unreadable file: the OSError names it
    except asyncssh.KeyImportError as exc:
        if not str(exc).startswith("Passphrase"):  # how asyncssh itself tells an encrypted key
            raise
    else:
        return {"client_keys": [path]}
    public = _public_key_of(path)
    if public is None:
        raise KeyfileNeedsAgent(
            path, f"its public key, by which ssh-agent's copy is found, is neither in it nor "
                  f"in '{path}.pub'",
            f"Write it there with `ssh-keygen -y -f {path} > {path}.pub` (which asks for the "
            "passphrase), add the key to ssh-agent")
    # ignore_encrypted: asyncssh leaves the key out instead of failing, and signs with the
    # agent's copy, the only one it offers
    return {"client_keys": [path], "ignore_encrypted": True, "agent_identities": [public]}


def _public_key_of(path: str) -> Any | None:
    """The public key of the private key file `path`: in it (OpenSSH's format keeps it
    unencrypted), else in `path`.pub, where ssh looks for it; None if in neither."""
    import asyncssh

    for where in (path, f"{path}.pub"):
        try:
            return asyncssh.read_public_key(where)
        except (OSError, asyncssh.KeyImportError):
            continue
    return None


def refused_through_agent(path: str, exc: PermissionError) -> KeyfileNeedsAgent:
    """The login with the agent's copy of the encrypted `keyfile` was refused: the agent
    does not hold the key (asyncssh then offers nothing), or the server does not take it."""
    return KeyfileNeedsAgent(
        path, f"the server refused it ({exc.strerror or exc}): the agent does not hold the "
              "key, or the server does not take it",
        f"Add the key to ssh-agent with `ssh-add {path}` (`ssh-add -l` lists the keys it "
        "holds)")


_JUMP_HOST = "dvx_jump_host"  # the attribute naming the jump host an exception came from


def jump_host_of(exc: BaseException) -> tuple[str, int | None, str | None] | None:
    """The ProxyJump host (host, port, user as ~/.ssh/config's ProxyJump gives them) whose
    connection failed with `exc`; None if it was the remote's own."""
    return getattr(exc, _JUMP_HOST, None)


def jump_hosts(host: str, port: str | int | None, user: str | None,
               settings: dict[str, Any], seen: frozenset[str] = frozenset()
               ) -> JumpHosts | None:
    """The tunnel through the ProxyJump hosts ~/.ssh/config names for `host`, connected to
    with `settings` (asyncssh's known_hosts, timeouts, keep-alive); None if it names none.
    asyncssh alone would connect to them with its defaults: only ~/.ssh/known_hosts, no
    timeout, and a jump host's refused key read as the remote's. `seen`: the hosts on the
    way already (a loop of ProxyJumps ends there, at a direct connection)."""
    if host in seen:
        return None
    hops = getattr(config_options(host, port, user), "tunnel", None)
    if not isinstance(hops, str):
        return None
    return JumpHosts(hops, settings, seen | {host})


class JumpHosts:
    """asyncssh's tunnel (an object with its `create_connection`) through the hops of a
    ProxyJump, `[USER@]HOST[:PORT]` separated by commas, as asyncssh reads them."""

    def __init__(self, hops: str, settings: dict[str, Any], seen: frozenset[str]) -> None:
        self.hops, self.settings, self.seen = hops, settings, seen

    def __repr__(self) -> str:
        return f"JumpHosts({self.hops!r})"

    async def create_connection(self, session_factory: Any, host: str, port: int
                                ) -> tuple[Any, Any]:
        conn: Any = None
        try:
            for hop in self.hops.split(","):
                conn = await self._connect(conn, *_parse_hop(hop))
            channel, session = await conn.create_connection(session_factory, host, port)
        except BaseException:
            if conn is not None:
                conn.close()  # and the hops before it, each the tunnel of the next
            raise
        session.set_tunnel(conn)  # closed with the connection it carries
        return channel, session

    async def _connect(self, before: Any, host: str, port: int | None, user: str | None
                       ) -> Any:
        import asyncssh

        tunnel = before or jump_hosts(host, port, user, self.settings, self.seen)
        try:
            conn = await asyncssh.connect(host, port or (), username=user or (),
                                          tunnel=tunnel, **self.settings)
        except Exception as exc:
            if jump_host_of(exc) is None:  # the innermost hop that failed
                setattr(exc, _JUMP_HOST, (host, port, user))
            raise
        conn.set_tunnel(before)
        return conn


def _parse_hop(hop: str) -> tuple[str, int | None, str | None]:
    user, at, host = hop.rpartition("@")
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        host = name
    return host, int(port) if colon and port.isdigit() else None, user if at else None
