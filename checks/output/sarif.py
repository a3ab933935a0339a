"""SARIF 2.1.0 for code-scanning tools, built from the lint-ttt JSON (so a saved review renders too)."""

from __future__ import annotations

LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def sarif_from_json(lint: dict) -> dict:
    rules_meta = {r["id"]: r for r in lint.get("rules", [])}
    rule_ids = sorted({f["rule"] for fl in lint.get("files", []) for f in fl.get("findings", [])} | set(rules_meta))
    driver_rules = []
    index = {}
    for i, rid in enumerate(rule_ids):
        meta = rules_meta.get(rid, {"id": rid, "name": rid, "summary": rid})
        index[rid] = i
        driver_rules.append({
            "id": rid,
            "name": meta.get("name", rid),
            "shortDescription": {"text": meta.get("summary", rid)},
            "fullDescription": {"text": meta.get("help", meta.get("summary", rid))},
            "helpUri": meta.get("docs", f"docs/rules/{rid}.md"),
            "properties": {"severity": meta.get("severity"), "confidence": meta.get("confidence"),
                           "rulings": meta.get("rulings", []), "version": meta.get("version")},
        })
    results = []
    for fl in lint.get("files", []):
        for f in fl.get("findings", []):
            res = {
                "ruleId": f["rule"],
                "ruleIndex": index[f["rule"]],
                "level": LEVEL.get(f["severity"], "warning"),
                "message": {"text": f["message"]},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": f.get("path") or fl["path"]},
                    "region": ({"startLine": f["line"], "startColumn": f["col"]} if not f.get("virtual_path")
                               else {"startLine": f.get("file_line", 1)}),
                }}],
                "partialFingerprints": {"harnessFingerprint/v1": f.get("fingerprint", "")},
                "properties": {"confidence": f.get("confidence"), "reachability": f.get("reachability", {}),
                               "virtualPath": f.get("virtual_path"), "evidence": f.get("evidence", [])},
            }
            if f.get("virtual_path"):
                # decoded payload: the finding's line is inside the decoded code; point also at the exec line
                res["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": f["virtual_path"], "kind": "module"}]
                res["message"]["text"] += f" (decoded code {f['virtual_path']}, line {f['line']})"
                res["relatedLocations"] = [{"id": 0, "message": {"text": "reached through " + " -> ".join(f.get("reached", []))},
                                            "physicalLocation": {"artifactLocation": {"uri": f.get("path") or fl["path"]}}}]
            results.append(res)
    tool = lint.get("tool", {})
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "parameter-golf-harness", "version": tool.get("version", ""),
                                "informationUri": "docs/lint-ttt.md", "rules": driver_rules}},
            "results": results,
        }],
    }
