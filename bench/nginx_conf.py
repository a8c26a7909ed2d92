"""nginx on loopback from the shipped deploy/nginx/emojid.conf: one generator for
tests/test_nginx.py and the load figures of `make bench` (bench/load.py), so both
run exactly the config we ship, with only ports and paths swapped.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "emojid.conf"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def main_conf(tmp: Path, server_conf: str, access_log: bool = True) -> Path:
    """A whole nginx.conf around a server-level config, every path under `tmp`."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    user = ""
    if os.geteuid() == 0:  # workers would otherwise drop to nobody, who cannot read the tmp dirs
        import grp
        import pwd
        user = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"
    log = f"access_log {tmp}/access.log;" if access_log else "access_log off;"
    conf = tmp / "nginx.conf"
    conf.write_text(f"""{user}
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    {log}
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{server_conf}
}}
""")
    return conf


def nginx_cmd(tmp: Path, conf: Path, *extra: str) -> list[str]:
    assert NGINX is not None
    return [NGINX, "-p", f"{tmp}/", "-c", str(conf),
            "-g", f"daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;", *extra]


def on_loopback(text: str, listen_port: int, upstream_port: int, state_dir: Path,
                cache_dir: Path | None = None) -> str:
    """The shipped config with these ports, state directory and nginx cache folder
    (default: `nginx-cache` beside the state directory): plain HTTP on loopback."""
    text = text[:text.rindex("\nserver {")]  # the port-80 redirect server
    text = text.replace("server 127.0.0.1:4000;", f"server 127.0.0.1:{upstream_port};")
    text = text.replace("/var/lib/emojid/", f"{state_dir.resolve()}/")
    cache = cache_dir or state_dir.resolve().parent / "nginx-cache"
    text = text.replace("proxy_cache_path /var/lib/nginx/emojid-cache ", f"proxy_cache_path {cache} ")
    text = re.sub(r"^\s*(listen|ssl_certificate|ssl_certificate_key)\b.*\n", "", text, flags=re.M)
    assert text.count("server {") == 1
    return text.replace("server {", f"server {{\n    listen 127.0.0.1:{listen_port};", 1)
