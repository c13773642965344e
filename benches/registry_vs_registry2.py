#!/usr/bin/env python3
"""s3driver serve next to registry:2 (Debian's docker-registry 2.8.2), side by side in one run.

Both registries run with the same registry:2 configuration on the same S3 server (each under
its own root directory of one bucket, so neither finds the other's blobs). In every round each
pushes and pulls, with skopeo, a single-layer image of --big-mib MiB and --small images of
1 MiB concurrently; the order of the two registries alternates from round to round (ABBA), so
neither always runs in the quieter minute. Printed: the median wall time of each operation,
the registry process's CPU time (utime + stime from /proc) for it, and each process's peak RSS
(VmHWM), with ratios registry:2 / s3driver.

Run by hand (not in CI), on an otherwise idle machine:

    cargo build --release --features server --bin s3driver
    python3 benches/registry_vs_registry2.py [--rounds 5] [--big-mib 200] [--small 20]

The S3 server: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (default: the Swift s3api that
.ci/swift-s3api.sh starts on 127.0.0.1:8090). registry:2's S3 driver needs
ListMultipartUploads, so the in-process s3s-fs server cannot be used here.
"""

import argparse
import base64
import concurrent.futures
import email.utils
import hashlib
import hmac
import http.client
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_bucket(endpoint, ak, sk, bucket):
    """A SigV2-signed PUT Bucket (the standard library only)."""
    u = urllib.parse.urlparse(endpoint)
    date = email.utils.formatdate(usegmt=True)
    sts = f"PUT\n\n\n{date}\n/{bucket}"
    sig = base64.b64encode(hmac.new(sk.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("PUT", f"/{bucket}", headers={"Date": date, "Authorization": f"AWS {ak}:{sig}",
                                             "Content-Length": "0"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"creating bucket {bucket}: HTTP {r.status}")


def oci_layout(path, layer_bytes, seed):
    """An OCI image layout holding one image whose single layer is an uncompressed tar of
    `layer_bytes` pseudo-random bytes."""
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(path, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return f"sha256:{d}", len(data)

    content = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(content) < layer_bytes:
        block = hashlib.sha256(block).digest()
        content += block * 64
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("data.bin")
        info.size = layer_bytes
        info.mtime = 0
        t.addfile(info, io.BytesIO(bytes(content[:layer_bytes])))
    layer, layer_size = put(tar_buf.getvalue())
    diff_id = layer
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "config": {"Labels": {"seed": seed}}}).encode()
    cfg, cfg_size = put(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg,
                   "size": cfg_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                    "size": layer_size}],
    }).encode()
    m, m_size = put(manifest)
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m,
            "size": m_size, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_up(base, proc, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} ended at start; see its log")
        try:
            c = http.client.HTTPConnection(base.split("//")[1], timeout=2)
            c.request("GET", "/v2/")
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{what} did not answer")


def skopeo(*args):
    r = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"skopeo {' '.join(args)} failed:\n{r.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--big-mib", type=int, default=200)
    ap.add_argument("--small", type=int, default=20)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "s3driver"))
    args = ap.parse_args()
    endpoint = os.environ.get("S3_ENDPOINT", "http://127.0.0.1:8090")
    ak = os.environ.get("S3_ACCESS_KEY", "test:tester")
    sk = os.environ.get("S3_SECRET_KEY", "testing")
    bucket = f"s3d-bench-{os.getpid()}-{int(time.time())}"
    create_bucket(endpoint, ak, sk, bucket)
    work = tempfile.mkdtemp(prefix="s3driver-vs-registry2-")
    procs = {}
    try:
        print(f"images: 1 x {args.big_mib} MiB, {args.small} x 1 MiB; {args.rounds} rounds; "
              f"S3 {endpoint}")
        oci_layout(os.path.join(work, "big"), args.big_mib << 20, "big")
        for i in range(args.small):
            oci_layout(os.path.join(work, f"small{i}"), 1 << 20, f"small{i}")
        bases = {}
        for name in ("s3driver", "registry:2"):
            port = free_port()
            root = "/ours" if name == "s3driver" else "/theirs"
            cfg = os.path.join(work, f"{root[1:]}.yml")
            with open(cfg, "w") as f:
                f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                        f"storage:\n  s3:\n    accesskey: \"{ak}\"\n    secretkey: \"{sk}\"\n"
                        f"    region: us-east-1\n    regionendpoint: {endpoint}\n"
                        f"    forcepathstyle: true\n    bucket: {bucket}\n"
                        f"    rootdirectory: {root}\n    chunksize: 10485760\n"
                        f"  redirect:\n    disable: true\n  maintenance:\n    uploadpurging:\n"
                        f"      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n"
                        f"  secret: bench\n")
            env = dict(os.environ)
            env.pop("AWS_CA_BUNDLE", None)  # docker-registry panics when it is set
            cmd = ([args.binary, "serve", "--config", cfg] if name == "s3driver"
                   else ["docker-registry", "serve", cfg])
            log = open(os.path.join(work, f"{root[1:]}.log"), "w")
            procs[name] = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
            bases[name] = f"http://127.0.0.1:{port}"
            wait_up(bases[name], procs[name], name)

        def run_op(name, op, rnd):
            host = bases[name].split("//")[1]
            pid = procs[name].pid
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            if op == "push big":
                skopeo("copy", "--dest-tls-verify=false", f"oci:{work}/big:v1",
                       f"docker://{host}/bench/big:r{rnd}")
            elif op == "pull big":
                out = os.path.join(work, f"pull-big-{name[:2]}-{rnd}")
                skopeo("copy", "--src-tls-verify=false", f"docker://{host}/bench/big:r{rnd}",
                       f"dir:{out}")
                shutil.rmtree(out)
            else:
                push = op.startswith("push")

                def one(i):
                    if push:
                        skopeo("copy", "--dest-tls-verify=false", f"oci:{work}/small{i}:v1",
                               f"docker://{host}/bench/small{i}:r{rnd}")
                    else:
                        out = os.path.join(work, f"pull-{name[:2]}-{rnd}-{i}")
                        skopeo("copy", "--src-tls-verify=false",
                               f"docker://{host}/bench/small{i}:r{rnd}", f"dir:{out}")
                        shutil.rmtree(out)

                with concurrent.futures.ThreadPoolExecutor(args.small) as pool:
                    list(pool.map(one, range(args.small)))
            return time.monotonic() - t0, cpu_seconds(pid) - cpu0

        ops = ["push big", "pull big", f"push {args.small} small", f"pull {args.small} small"]
        results = {(n, op): [] for n in bases for op in ops}
        for rnd in range(args.rounds):
            order = ["s3driver", "registry:2"] if rnd % 2 == 0 else ["registry:2", "s3driver"]
            for op in ops:
                for name in order:
                    results[(name, op)].append(run_op(name, op, rnd))
            print(f"round {rnd + 1}/{args.rounds} done (load average {os.getloadavg()[0]:.2f})",
                  flush=True)

        med = statistics.median
        print()
        print(f"{'operation':<22} {'s3driver s':>11} {'registry:2 s':>13} {'speed-up':>9} "
              f"{'s3driver CPU s':>15} {'registry:2 CPU s':>17} {'CPU ratio':>10}")
        for op in ops:
            ow, oc = med(r[0] for r in results[("s3driver", op)]), med(
                r[1] for r in results[("s3driver", op)])
            tw, tc = med(r[0] for r in results[("registry:2", op)]), med(
                r[1] for r in results[("registry:2", op)])
            print(f"{op:<22} {ow:>11.2f} {tw:>13.2f} {tw / ow:>8.2f}x {oc:>15.2f} {tc:>17.2f} "
                  f"{(tc / oc if oc else float('inf')):>9.1f}x")
        o_rss, t_rss = peak_rss_mib(procs["s3driver"].pid), peak_rss_mib(procs["registry:2"].pid)
        print(f"{'peak RSS (MiB)':<22} {o_rss:>11.1f} {t_rss:>13.1f} {t_rss / o_rss:>8.2f}x")
        print(f"medians of {args.rounds} rounds; load average at the end "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
