"""A test PKI made with the openssl command line, as an ops team makes an internal CA: a CA, server
certificates signed by it (with the names, dates and key the test asks for), and a second, foreign
CA. Expired and not-yet-valid certificates are signed with `openssl ca`, which takes explicit dates."""

import pathlib
import subprocess
import textwrap


def openssl(*args, cwd=None):
    proc = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, "openssl %s failed: %s" % (" ".join(map(str, args)), proc.stderr)
    return proc.stdout


class CA:
    """One certificate authority in its own directory."""

    def __init__(self, directory, name="hx test CA", parent=None):
        """A root CA, or with parent an intermediate CA that parent signs."""
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = self.dir / "ca.key"
        self.cert = self.dir / "ca.crt"
        if parent is None:
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", self.key, "-out", self.cert, "-days", "3650", "-subj", "/CN=%s" % name,
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        else:
            csr = self.dir / "ca.csr"
            openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", self.key, "-out", csr, "-subj", "/CN=%s" % name)
            openssl("ca", "-batch", "-config", parent.dir / "ca.cnf", "-extensions", "sub_ca", "-in", csr,
                    "-out", self.cert, "-notext", "-days", "1825")
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        (self.dir / "ca.cnf").write_text(textwrap.dedent("""\
            [ca]
            default_ca = hx
            [hx]
            dir = %s
            database = $dir/index.txt
            serial = $dir/serial
            new_certs_dir = $dir
            certificate = $dir/ca.crt
            private_key = $dir/ca.key
            default_md = sha256
            policy = anything
            unique_subject = no
            copy_extensions = copy
            [anything]
            commonName = supplied
            [sub_ca]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            """ % self.dir))

    def pem(self):
        return self.cert.read_text()

    def issue(self, name, names, days=365, start=None, end=None, key=None):
        """A server certificate for names (DNS names or IP addresses) and its key, as PEM texts.

        start/end (YYYYMMDDHHMMSSZ) give explicit dates, e.g. an expired certificate; key reuses an
        existing key file (a certificate re-issued for the same key)."""
        key = pathlib.Path(key) if key else self.dir / ("%s.key" % name)
        if not key.exists():
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", key)
        csr, cert = self.dir / ("%s.csr" % name), self.dir / ("%s.crt" % name)
        san = ",".join(("IP:%s" if n.replace(".", "").isdigit() or ":" in n else "DNS:%s") % n for n in names)
        openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=%s" % names[0],
                "-addext", "subjectAltName=%s" % san, "-addext", "extendedKeyUsage=serverAuth")
        dates = ["-startdate", start, "-enddate", end] if start else ["-days", str(days)]
        openssl("ca", "-batch", "-config", self.dir / "ca.cnf", "-in", csr, "-out", cert, "-notext", *dates)
        return cert.read_text(), key.read_text()
