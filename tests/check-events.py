#!/usr/bin/python3
# check-events.py SCHEMA FILE...: every JSON object line of each FILE
# (vmferry migrate --json output; other lines are skipped) is valid
# against SCHEMA (man/vmferry-events.schema.json, JSON Schema 2020-12).
# Prints each invalid line with the reasons; exit 1 if any, 2 if no
# event was found at all, 77 if python3-jsonschema is missing.
import json
import sys

try:
    import jsonschema
except ImportError:
    print('check-events.py: python3-jsonschema is not installed')
    sys.exit(77)

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
bad = seen = 0
kinds = {}
for name in sys.argv[2:]:
    for n, line in enumerate(open(name, errors='replace'), 1):
        if not line.startswith('{'):
            continue
        try:
            ev = json.loads(line)
        except ValueError as e:
            print('%s:%d: not JSON: %s' % (name, n, e))
            bad += 1
            continue
        seen += 1
        kinds[ev.get('event')] = kinds.get(ev.get('event'), 0) + 1
        errors = sorted(validator.iter_errors(ev), key=lambda e: e.path)
        for e in errors:
            print('%s:%d: %s: %s' % (name, n, '/'.join(map(str, e.path)),
                                     e.message))
        if errors:
            print('  %s' % line.strip())
            bad += 1
print('check-events.py: %d events (%s), %d invalid' %
      (seen, ', '.join('%s %d' % k for k in sorted(kinds.items(),
                                                  key=str)), bad))
sys.exit(1 if bad else 2 if seen == 0 else 0)
