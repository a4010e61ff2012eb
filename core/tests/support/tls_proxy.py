#!/usr/bin/python3
"""A TLS-terminating TCP proxy on OpenSSL (Python's ssl module): the HTTPS face of a camera
for camwire's tests, so the TLS peer is software written by others.

Usage: tls_proxy.py CERT.pem KEY.pem LISTEN_IP UPSTREAM_HOST:PORT
Prints "READY PORT" once it listens; each TLS connection is piped to the upstream over TCP.
"""
import socket
import ssl
import sys
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, ctx, upstream):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        conn.close()  # the client refused our certificate: expected in some tests
        return
    up = socket.create_connection(upstream)
    threading.Thread(target=pump, args=(up, tls), daemon=True).start()
    pump(tls, up)


def main():
    cert, key, ip, upstream = sys.argv[1:5]
    host, port = upstream.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    lsock = socket.socket()
    lsock.bind((ip, 0))
    lsock.listen(16)
    print(f"READY {lsock.getsockname()[1]}", flush=True)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve, args=(conn, ctx, (host, int(port))), daemon=True).start()


if __name__ == "__main__":
    main()
