#!/usr/bin/env python3
"""s3driver serve next to registry:2 (Debian's docker-registry 2.8.2), side by side in one run.

Both registries run with the same registry:2 configuration on the same S3 server (each under
its own root directory of one bucket, so neither finds the other's blobs). In every round each
pushes and pulls, with skopeo, a single-layer image of --big-mib MiB and --small images of
1 MiB concurrently, and then uploads blobs of --commit-mib sizes over HTTP, timing the closing
PUT (the commit: the move from _uploads/ to blobs/); the order of the two registries alternates from round to round (ABBA), so
neither always runs in the quieter minute. Printed: the median wall time of each operation,
the registry process's CPU time (utime + stime from /proc) for it, and each process's peak RSS
(VmHWM, reset before each operation: the peak per operation and the highest of them), with
ratios registry:2 / s3driver.

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
import gzip
import hashlib
import hmac
import http.client
import io
import json
import os
import random
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
    """An OCI image layout holding one image whose single layer is a gzip (stored, level 0)
    tar of `layer_bytes` pseudo-random bytes from `seed`: incompressible, and already
    compressed so skopeo sends it as it is (it would gzip an uncompressed layer itself, which
    measures skopeo). Every seed gives different blobs, so no push finds them stored."""
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(path, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return f"sha256:{d}", len(data)

    content = random.Random(seed).randbytes(layer_bytes)
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("data.bin")
        info.size = layer_bytes
        info.mtime = 0
        t.addfile(info, io.BytesIO(content))
    tar = tar_buf.getvalue()
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    layer, layer_size = put(gzip.compress(tar, compresslevel=0, mtime=0))
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "config": {"Labels": {"seed": seed}}}).encode()
    cfg, cfg_size = put(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg,
                   "size": cfg_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer, "size": layer_size}],
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


def reset_peak_rss(pid):
    """Starts a new VmHWM period (Linux: `5` to /proc/PID/clear_refs), so each operation's
    own peak is measured; on a kernel that refuses, the lifetime peak is read instead."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


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


def upload_and_commit(base, repo, data):
    """Uploads `data` as one blob (POST, one PATCH, closing PUT ?digest= without a body)
    and returns the seconds the closing PUT took: the commit, which moves the upload from
    _uploads/ to blobs/ (an S3 copy, multipart above the copy threshold)."""
    host = base.split("//")[1]
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    c = http.client.HTTPConnection(host, timeout=600)
    c.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    r = c.getresponse()
    r.read()
    if r.status != 202:
        sys.exit(f"POST upload to {base}: HTTP {r.status}")
    loc = r.getheader("Location")
    path = urllib.parse.urlparse(loc).path + ("?" + urllib.parse.urlparse(loc).query
                                              if urllib.parse.urlparse(loc).query else "")
    view = memoryview(data)
    chunks = (view[i:i + (8 << 20)] for i in range(0, len(data), 8 << 20))
    c.request("PATCH", path, body=chunks, headers={
        "Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
        "Content-Range": f"0-{len(data) - 1}"})
    r = c.getresponse()
    r.read()
    if r.status != 202:
        sys.exit(f"PATCH to {base}: HTTP {r.status}")
    loc = r.getheader("Location")
    u = urllib.parse.urlparse(loc)
    sep = "&" if u.query else "?"
    path = u.path + ("?" + u.query if u.query else "") + sep + "digest=" + urllib.parse.quote(digest)
    t0 = time.monotonic()
    c.request("PUT", path, headers={"Content-Length": "0"})
    r = c.getresponse()
    r.read()
    took = time.monotonic() - t0
    if r.status != 201:
        sys.exit(f"closing PUT to {base}: HTTP {r.status}")
    c.close()
    return took


def skopeo(*args):
    r = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"skopeo {' '.join(args)} failed:\n{r.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--big-mib", type=int, default=200)
    ap.add_argument("--small", type=int, default=20)
    ap.add_argument("--commit-mib", default="1,100,1024",
                    help="blob sizes (MiB) whose commit latency is measured; empty: none")
    ap.add_argument("--commit-rounds", type=int, default=3)
    ap.add_argument("--skip-images", action="store_true",
                    help="only the commit latency (no skopeo pushes and pulls)")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "s3driver"))
    ap.add_argument("--redirect", action="store_true",
                    help="leave storage redirects on (registry:2's default for S3): blob GETs "
                         "are answered with a presigned S3 URL that skopeo follows")
    ap.add_argument("--ours-param", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra s3 storage parameter for s3driver only "
                         "(e.g. maxconcurrentparts=2), to measure a setting")
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
        bases = {}
        for name in ("s3driver", "registry:2"):
            port = free_port()
            root = "/ours" if name == "s3driver" else "/theirs"
            cfg = os.path.join(work, f"{root[1:]}.yml")
            extra = "".join("    {}: {}\n".format(*kv.split("=", 1))
                            for kv in (args.ours_param if name == "s3driver" else []))
            with open(cfg, "w") as f:
                f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                        f"storage:\n  s3:\n    accesskey: \"{ak}\"\n    secretkey: \"{sk}\"\n"
                        f"    region: us-east-1\n    regionendpoint: {endpoint}\n"
                        f"    forcepathstyle: true\n    bucket: {bucket}\n"
                        f"    rootdirectory: {root}\n    chunksize: 10485760\n{extra}"
                        f"  redirect:\n    disable: {'false' if args.redirect else 'true'}\n"
                        f"  maintenance:\n    uploadpurging:\n"
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

        def images(name, rnd):
            """This round's images for `name`, different from every other round's and the
            other registry's (a push never finds its blobs stored)."""
            d = os.path.join(work, f"img-{name[:2]}-{rnd}")
            shutil.rmtree(d, ignore_errors=True)
            oci_layout(os.path.join(d, "big"), args.big_mib << 20, f"big-{name}-{rnd}")
            for i in range(args.small):
                oci_layout(os.path.join(d, f"small{i}"), 1 << 20, f"small{i}-{name}-{rnd}")
            return d

        def run_op(name, op, rnd):
            host = bases[name].split("//")[1]
            src = os.path.join(work, f"img-{name[:2]}-{rnd}")
            pid = procs[name].pid
            reset_peak_rss(pid)
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            if op == "push big":
                skopeo("copy", "--dest-tls-verify=false", f"oci:{src}/big:v1",
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
                        skopeo("copy", "--dest-tls-verify=false", f"oci:{src}/small{i}:v1",
                               f"docker://{host}/bench/small{i}:r{rnd}")
                    else:
                        out = os.path.join(work, f"pull-{name[:2]}-{rnd}-{i}")
                        skopeo("copy", "--src-tls-verify=false",
                               f"docker://{host}/bench/small{i}:r{rnd}", f"dir:{out}")
                        shutil.rmtree(out)

                with concurrent.futures.ThreadPoolExecutor(args.small) as pool:
                    list(pool.map(one, range(args.small)))
            return time.monotonic() - t0, cpu_seconds(pid) - cpu0, peak_rss_mib(pid)

        ops = ["push big", "pull big", f"push {args.small} small", f"pull {args.small} small"]
        results = {(n, op): [] for n in bases for op in ops}
        for rnd in range(0 if args.skip_images else args.rounds):
            order = ["s3driver", "registry:2"] if rnd % 2 == 0 else ["registry:2", "s3driver"]
            for name in order:
                images(name, rnd)
            for op in ops:
                for name in order:
                    results[(name, op)].append(run_op(name, op, rnd))
            for name in order:
                shutil.rmtree(os.path.join(work, f"img-{name[:2]}-{rnd}"), ignore_errors=True)
            print(f"round {rnd + 1}/{args.rounds} done (load average {os.getloadavg()[0]:.2f})",
                  flush=True)

        med = statistics.median
        commit_sizes = [int(x) for x in args.commit_mib.split(",") if x.strip()]
        commits = {(n, m): [] for n in bases for m in commit_sizes}
        for m in commit_sizes:
            base_data = bytearray()
            block = hashlib.sha256(f"commit{m}".encode()).digest()
            while len(base_data) < (m << 20):
                block = hashlib.sha256(block).digest()
                base_data += block * 512
            del base_data[m << 20:]
            for rnd in range(args.commit_rounds):
                order = ["s3driver", "registry:2"] if rnd % 2 == 0 else ["registry:2", "s3driver"]
                for name in order:
                    # A distinct blob each time (the first 16 bytes), so no commit finds it stored.
                    base_data[:16] = hashlib.md5(f"{name}{rnd}".encode()).digest()
                    commits[(name, m)].append(
                        upload_and_commit(bases[name], "bench/commit", bytes(base_data)))
            print(f"commit {m} MiB: {args.commit_rounds} rounds done", flush=True)
        if commit_sizes:
            print()
            print(f"{'blob commit (PUT)':<22} {'s3driver s':>11} {'registry:2 s':>13} {'speed-up':>9}")
            for m in commit_sizes:
                o, t = med(commits[("s3driver", m)]), med(commits[("registry:2", m)])
                print(f"{f'{m} MiB':<22} {o:>11.3f} {t:>13.3f} {t / o:>8.2f}x")
        if args.skip_images:
            return
        print()
        print(f"{'operation':<22} {'s3driver s':>11} {'registry:2 s':>13} {'speed-up':>9} "
              f"{'s3driver CPU s':>15} {'registry:2 CPU s':>17} {'CPU ratio':>10} "
              f"{'peak RSS MiB (ours/theirs)':>27}")
        for op in ops:
            ow, oc = med(r[0] for r in results[("s3driver", op)]), med(
                r[1] for r in results[("s3driver", op)])
            tw, tc = med(r[0] for r in results[("registry:2", op)]), med(
                r[1] for r in results[("registry:2", op)])
            orss = max(r[2] for r in results[("s3driver", op)])
            trss = max(r[2] for r in results[("registry:2", op)])
            print(f"{op:<22} {ow:>11.2f} {tw:>13.2f} {tw / ow:>8.2f}x {oc:>15.2f} {tc:>17.2f} "
                  f"{(tc / oc if oc else float('inf')):>9.1f}x {orss:>13.1f} / {trss:<11.1f}")
        # The highest of the per-operation peaks (each measured from a VmHWM reset).
        o_rss = max(r[2] for op in ops for r in results[("s3driver", op)])
        t_rss = max(r[2] for op in ops for r in results[("registry:2", op)])
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
