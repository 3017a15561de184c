"""Checks deploy/kubernetes/*.yaml against what the cluster would check.

Every document parses (PyYAML, the same YAML 1.1 reader family kubectl's
sigs.k8s.io/yaml wraps); every object has apiVersion, kind, metadata.name;
the prometheus-operator objects have the fields their CRDs list as
`required` (PodMonitor: spec.selector, spec.podMetricsEndpoints in older
CRDs; ServiceMonitor: spec.selector, spec.endpoints; PrometheusRule:
groups[].name, rules[].expr and one of alert/record; RelabelConfig with
action replace: targetLabel), and a relabeling sets job to the rules'
alerting.job; the PodMonitor's selector matches the pods it should scrape;
every image (in a manifest or in a commented pod-spec fragment) is the one
scripts/image.sh builds; the DaemonSet mounts the data read-only, runs
non-root with a read-only root filesystem. Every monitor sets instance to the
node's name and carries the label kube-prometheus-stack selects monitors on
(release); the memory limit is the systemd unit's MemoryMax, one figure.
"""
import argparse
import glob
import os
import re
import sys
import unittest

import yaml

ARGS = None
JOB = "stemedb_disk"


def documents():
    out = []
    for path in sorted(glob.glob(os.path.join(ARGS.source, "deploy",
                                              "kubernetes", "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for doc in yaml.safe_load_all(text):
            if doc is not None:
                out.append((os.path.basename(path), doc))
    return out


def manifest_texts():
    for path in sorted(glob.glob(os.path.join(ARGS.source, "deploy",
                                              "kubernetes", "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            yield os.path.basename(path), f.read()


def require(test, obj, path, where):
    """Follows a dotted path; fails naming the file and path if missing."""
    node = obj
    for key in path.split("."):
        test.assertIsInstance(node, dict, "%s: %s: not a map" % (where, path))
        test.assertIn(key, node, "%s: %s is required" % (where, path))
        node = node[key]
    test.assertNotIn(node, (None, "", [], {}),
                     "%s: %s is empty" % (where, path))
    return node


class ManifestTest(unittest.TestCase):

    def setUp(self):
        self.docs = documents()
        self.assertTrue(self.docs, "no manifests under deploy/kubernetes")

    def of_kind(self, kind):
        return [(f, d) for f, d in self.docs if d.get("kind") == kind]

    def test_every_object_has_the_kubernetes_basics(self):
        for f, d in self.docs:
            where = "%s: %s" % (f, d.get("kind"))
            require(self, d, "apiVersion", where)
            require(self, d, "kind", where)
            require(self, d, "metadata.name", where)

    def check_relabelings(self, relabelings, where, node_label):
        jobs = []
        instances = []
        for r in relabelings or []:
            if r.get("action", "replace") == "replace":
                require(self, r, "targetLabel", where + ": relabeling")
                if r["targetLabel"] == "job":
                    jobs.append(r.get("replacement"))
                if r["targetLabel"] == "instance":
                    instances.append(r.get("sourceLabels"))
        self.assertEqual(jobs, [JOB], "%s: a relabeling must set job=%s "
                         "(the alerts select it)" % (where, JOB))
        self.assertEqual(instances, [[node_label]],
                         "%s: instance must be the node's name (%s), not "
                         "the pod's address" % (where, node_label))

    def check_selected_by_kube_prometheus_stack(self, d, where):
        labels = d["metadata"].get("labels") or {}
        self.assertTrue(labels.get("release"),
                        "%s: no release label (kube-prometheus-stack's "
                        "default monitor selector)" % where)

    def test_pod_monitors(self):
        monitors = self.of_kind("PodMonitor")
        self.assertGreaterEqual(len(monitors), 2, "sidecar and DaemonSet")
        for f, d in monitors:
            where = "%s: PodMonitor %s" % (f, d["metadata"]["name"])
            self.assertEqual(d["apiVersion"], "monitoring.coreos.com/v1")
            require(self, d, "spec.selector", where)
            self.check_selected_by_kube_prometheus_stack(d, where)
            for ep in require(self, d, "spec.podMetricsEndpoints", where):
                require(self, ep, "port", where + ": endpoint")
                self.check_relabelings(ep.get("relabelings"), where,
                                       "__meta_kubernetes_pod_node_name")

    def test_service_monitors(self):
        for f, d in self.of_kind("ServiceMonitor"):
            where = "%s: ServiceMonitor %s" % (f, d["metadata"]["name"])
            require(self, d, "spec.selector", where)
            self.check_selected_by_kube_prometheus_stack(d, where)
            for ep in require(self, d, "spec.endpoints", where):
                self.check_relabelings(ep.get("relabelings"), where,
                                       "__meta_kubernetes_endpoint_node_name")

    def test_prometheus_rule(self):
        rules = self.of_kind("PrometheusRule")
        self.assertEqual(len(rules), 1)
        f, d = rules[0]
        for group in require(self, d, "spec.groups", f):
            require(self, group, "name", f + ": group")
            for rule in require(self, group, "rules", f + ": group"):
                require(self, rule, "expr", "%s: %s" % (f, rule))
                self.assertTrue(("alert" in rule) != ("record" in rule),
                                "%s: %s: alert or record" % (f, rule))

    def test_daemonset_reads_host_data_read_only_as_non_root(self):
        sets = self.of_kind("DaemonSet")
        self.assertEqual(len(sets), 1)
        f, d = sets[0]
        pod = require(self, d, "spec.template.spec", f)
        labels = require(self, d, "spec.template.metadata.labels", f)
        for k, v in require(self, d, "spec.selector.matchLabels", f).items():
            self.assertEqual(labels.get(k), v, "selector matches the pods")
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(pod["securityContext"]["runAsUser"], 0)
        volumes = {v["name"]: v for v in pod["volumes"]}
        (container,) = pod["containers"]
        self.assertTrue(container["securityContext"]["readOnlyRootFilesystem"])
        self.assertFalse(
            container["securityContext"]["allowPrivilegeEscalation"])
        host_mounts = [m for m in container["volumeMounts"]
                       if "hostPath" in volumes[m["name"]]]
        self.assertTrue(host_mounts, "the node's data comes by hostPath")
        for m in host_mounts:
            self.assertTrue(m.get("readOnly"), "%s: hostPath read-only" % f)
        # The PodMonitor of the same file scrapes these pods.
        (monitor,) = [m for mf, m in self.of_kind("PodMonitor") if mf == f]
        for k, v in monitor["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(k), v, "PodMonitor selects the pods")
        ports = {p["name"] for p in container["ports"]}
        for ep in monitor["spec"]["podMetricsEndpoints"]:
            self.assertIn(ep["port"], ports)

    def test_memory_limit_is_the_units_memory_max(self):
        unit = os.path.join(ARGS.source, "deploy", "systemd",
                            "stemedb-disk-exporter.service")
        with open(unit, encoding="utf-8") as f:
            (mib,) = re.findall(r"^MemoryMax=(\d+)M$", f.read(), re.M)
        limits = []
        for f, text in manifest_texts():
            # Parsed manifests and the commented pod-spec fragments alike.
            limits += [(f, m) for m in re.findall(
                r"limits:\s*\{\s*memory:\s*(\S+?)\s*\}", text)]
        self.assertGreaterEqual(len(limits), 2, "sidecar and DaemonSet")
        for f, limit in limits:
            self.assertEqual(limit, mib + "Mi",
                             "%s: memory limit %s, the unit's MemoryMax=%sM"
                             % (f, limit, mib))

    def test_every_image_is_the_one_the_project_builds(self):
        image = "stemedb-disk-exporter:%s" % ARGS.version
        seen = 0
        for f, text in manifest_texts():
            # Parsed manifests and the commented pod-spec fragments alike.
            for m in re.finditer(r"^[#\s-]*image:\s*(\S+)", text, re.M):
                seen += 1
                ref = m.group(1)
                self.assertTrue(ref == image or ref.endswith("/" + image),
                                "%s: image %s, but scripts/image.sh builds %s"
                                % (f, ref, image))
        self.assertGreaterEqual(seen, 2, "sidecar and DaemonSet name it")
        with open(os.path.join(ARGS.source, "scripts", "image.sh")) as f:
            self.assertIn("name=stemedb-disk-exporter", f.read())


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--version", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
