"""The real Helm v4 engine (helm-python-sdk) for the chart tests in operator/tests/chart.rs.

    helm_engine.py lint CHART                 -> {"errors": [...], "messages": [...]}
    helm_engine.py render CHART VALUES_JSON   -> {"ok": true, "files": {path: text}}
                                                 or {"ok": false, "error": "..."}
    helm_engine.py install|upgrade CHART VALUES_JSON KUBECONFIG RELEASE NAMESPACE
    helm_engine.py uninstall CHART - KUBECONFIG RELEASE NAMESPACE
                                              -> {"ok": true} or {"ok": false, "error": "..."}

Values are checked against values.schema.json by the engine, as `helm install` does.
"""
import json
import sys

import helm_python as helm


def main():
    command, chart = sys.argv[1], sys.argv[2]
    if command == "lint":
        print(json.dumps(helm.lint(chart, strict=True)))
        return
    if command in ("install", "upgrade", "uninstall"):
        print(json.dumps(release(command, chart, *sys.argv[3:7])))
        return
    values = json.loads(sys.argv[3])
    loaded = helm.Chart.load(chart)
    try:
        loaded.validate_schema(values)
        files = loaded.render(values, name="lg", namespace="llamagate-system", is_install=True)
    except helm.HelmError as error:
        print(json.dumps({"ok": False, "error": str(error)}))
        return
    crds = {crd["filename"]: crd["data"] for crd in loaded.crds}
    print(json.dumps({"ok": True, "files": {**files, **crds}}))


def release(command, chart, values, kubeconfig, name, namespace):
    config = helm.Config(kubeconfig_path=kubeconfig, namespace=namespace)
    try:
        if command == "install":
            config.install(chart, name, json.loads(values), namespace=namespace, create_namespace=True, timeout=120)
        elif command == "upgrade":
            config.upgrade(chart, name, json.loads(values), namespace=namespace, timeout=120)
        else:
            config.uninstall(name, timeout=120)
    except helm.HelmError as error:
        return {"ok": False, "error": str(error)}
    return {"ok": True}


if __name__ == "__main__":
    main()
