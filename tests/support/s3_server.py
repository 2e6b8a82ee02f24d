"""A real S3-compatible object store for the integration tests: moto's server (the one
`moto_server` runs, from `pip install "moto[server]"`), which speaks the S3 wire protocol, on
127.0.0.1:PORT, with bucket BUCKET created. It exits with the test process that started it.

    python3 s3_server.py PORT BUCKET
"""

import os
import sys
import time
import urllib.request

from moto.server import ThreadedMotoServer


def main(port, bucket):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # An unsigned path-style CreateBucket: moto accepts it as any S3 would from its owner.
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{bucket}", method="PUT")
    urllib.request.urlopen(request).read()
    print(f"s3 server on 127.0.0.1:{port}, bucket {bucket}", flush=True)
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
