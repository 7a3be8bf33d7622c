#!/usr/bin/env python3
"""The three Lambda binaries under cargo-lambda's runtime emulator, end to end.

`cargo lambda watch` serves the Lambda Runtime API on a loopback port and runs the real function
binaries; `cargo lambda invoke` sends them events. Around them: the simulated GitLab
(`seatwatch sim`) and moto's server (Secrets Manager, DynamoDB, S3). Checks:

- check: `{}` returns the same document as `seatwatch check --json` with the same settings;
- collect: `{}` commits a day to DynamoDB (the table is made beforehand, as the template's
  CloudFormation does: the functions create nothing);
- collect: a bad event fails with errorType `Seatwatch.Fatal`, the class the state machine does
  not retry;
- report: `{}` writes the site to S3 with the right content types.

Run by scripts/test.sh after the cargo tests (it needs the debug binaries and moto's URL in
SEATWATCH_TEST_MOTO_URL). Prints one line per check and a closing `N passed, M failed`.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEATWATCH = os.path.join(ROOT, "target", "debug", "seatwatch")
CARGO_LAMBDA = os.path.join(ROOT, ".venv", "bin", "cargo-lambda")
ADMIN_TOKEN = "glpat-fake-sim-admin-0000"

results = []


def same_words(doc):
    """The check details, without what differs from one call to the next."""
    return [
        re.sub(r"\d+ ms", "N ms", c["detail"]) for c in doc["checks"] if c["name"] != "rate_limit"
    ]


def record(name, ok, detail=""):
    results.append((name, ok))
    print(f"lambda: {name}: {'ok' if ok else 'FAILED'}{' - ' + detail if detail else ''}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what, timeout=600):
    """Waits until something accepts connections on the port (readiness, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


def main():
    moto_url = os.environ.get("SEATWATCH_TEST_MOTO_URL")
    if not moto_url:
        print("SEATWATCH_TEST_MOTO_URL is not set: run scripts/test.sh", file=sys.stderr)
        return 2
    aws_env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    sm = session.client("secretsmanager", endpoint_url=moto_url)
    s3 = session.client("s3", endpoint_url=moto_url)
    ddb = session.client("dynamodb", endpoint_url=moto_url)

    procs = []
    tmp = tempfile.mkdtemp(prefix="seatwatch-lambda-")
    try:
        sim_port = free_port()
        sim = subprocess.Popen(
            [SEATWATCH, "sim", "--port", str(sim_port), "--users", "300"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(sim)
        wait_port(sim_port, sim, "seatwatch sim", timeout=60)
        sim_url = f"http://127.0.0.1:{sim_port}"

        suffix = f"{os.getpid()}-{int(time.time())}"
        secret = f"seatwatch-lambda-{suffix}"
        table = f"seatwatch-lambda-{suffix}"
        bucket = f"seatwatch-lambda-{suffix}"
        sm.create_secret(Name=secret, SecretString=json.dumps({"token": ADMIN_TOKEN, "url": sim_url}))
        s3.create_bucket(Bucket=bucket)
        # The table as infra/template.yaml declares it (pk/sk strings, TTL on expires_at).
        ddb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        ddb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True},
        )

        fn_env = dict(aws_env)
        fn_env.update(
            {
                "SEATWATCH_SECRET_ID": secret,
                "SEATWATCH_TABLE": table,
                "SEATWATCH_BUCKET": bucket,
                "SEATWATCH_LOG": "info",
            }
        )
        env_file = os.path.join(tmp, "lambda.env")
        with open(env_file, "w") as f:
            for k, v in fn_env.items():
                f.write(f"{k}={v}\n")

        invoke_port = free_port()
        watch_env = dict(os.environ)
        watch_env.update(fn_env)
        watch = subprocess.Popen(
            [
                CARGO_LAMBDA, "lambda", "watch",
                "--invoke-address", "127.0.0.1",
                "--invoke-port", str(invoke_port),
                "--env-file", env_file,
                "--ignore-changes",
            ],
            cwd=ROOT,
            env=watch_env,
            stdout=open(os.path.join(tmp, "watch.log"), "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(watch)
        wait_port(invoke_port, watch, "cargo lambda watch")

        def invoke_raw(function, event):
            return subprocess.run(
                [
                    CARGO_LAMBDA, "lambda", "invoke", function,
                    "--data-ascii", json.dumps(event),
                    "--invoke-address", "127.0.0.1",
                    "--invoke-port", str(invoke_port),
                    "--output-format", "json",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )

        def invoke(function, event):
            out = subprocess.run(
                [
                    CARGO_LAMBDA, "lambda", "invoke", function,
                    "--data-ascii", json.dumps(event),
                    "--invoke-address", "127.0.0.1",
                    "--invoke-port", str(invoke_port),
                    "--output-format", "json",
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if out.returncode != 0:
                raise RuntimeError(f"invoke {function} failed: {out.stdout}{out.stderr}")
            return json.loads(out.stdout)

        # check: the same document as the CLI
        from_lambda = invoke("check", {})
        cli_env = dict(os.environ)
        cli_env.update(aws_env)
        cli_env["SEATWATCH_SECRET_ID"] = secret
        cli = subprocess.run([SEATWATCH, "check", "--json"], env=cli_env, capture_output=True, text=True)
        from_cli = json.loads(cli.stdout)
        same_shape = (
            set(from_lambda) == {"ok", "gitlab_url", "checks"}
            and [c["name"] for c in from_lambda["checks"]] == [c["name"] for c in from_cli["checks"]]
            and [c["status"] for c in from_lambda["checks"]] == [c["status"] for c in from_cli["checks"]]
            # the same words: what to do next reads the same in the Lambda and the CLI (the rate
            # limit's detail counts the requests left, which the CLI's own calls change, and
            # response times differ from call to call)
            and same_words(from_lambda) == same_words(from_cli)
            and from_lambda["gitlab_url"] == from_cli["gitlab_url"]
        )
        record("check returns the check document", from_lambda.get("ok") is True and same_shape,
               json.dumps(from_lambda)[:300])

        # collect: a committed day in DynamoDB
        summary = invoke("collect", {})
        items = ddb.scan(TableName=table)["Items"]
        days = [i for i in items if i["sk"]["S"].startswith("DAY#")]
        record(
            "collect commits a day to DynamoDB",
            summary.get("status") == "committed" and summary.get("members", 0) > 0 and len(days) == 1,
            f"status={summary.get('status')} members={summary.get('members')} day_items={len(days)}",
        )

        # a function error carries its retry class as errorType
        bad = invoke_raw("collect", {"date": "not-a-date"})
        said = bad.stdout + bad.stderr
        record(
            "a bad event fails as Seatwatch.Fatal",
            bad.returncode != 0 and "Seatwatch.Fatal" in said and "YYYY-MM-DD" in said,
            said.strip()[-300:],
        )

        # report: the site in S3
        summary = invoke("report", {})
        keys = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
        wanted = ["index.html", "unused.html", "activity.html", "unused.csv", "data/report.json"]
        missing = [k for k in wanted if k not in keys]
        head = s3.head_object(Bucket=bucket, Key="index.html") if "index.html" in keys else {}
        record(
            "report writes the site to S3",
            not missing and head.get("ContentType", "").startswith("text/html"),
            f"missing={missing} index content-type={head.get('ContentType')}",
        )
    except Exception as e:  # a failure to set up is a failed check, with its reason
        record("emulator run", False, str(e))
        log = os.path.join(tmp, "watch.log")
        if os.path.exists(log):
            print(open(log).read()[-4000:], file=sys.stderr)
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)

    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
