# The two commands of the README. Both install what they need on a fresh Debian 12
# machine (apt, dockerd, .venv, the test image) through tests/bootstrap.sh.
.PHONY: lab lab-down test lint unit docs

lab:  ## Build the local lab and run litellm_enforce.yml (--check --diff, then for real)
	bash tests/lab/lab.sh up

lab-down:  ## Remove the lab containers and network
	bash tests/lab/lab.sh down

test:  ## Everything: unit tests, lint, molecule on systemd containers
	bash tests/run.sh

unit:  ## Fast tests only (no containers)
	bash tests/run.sh tests/unit tests/test_lint.py tests/test_group_vars.py

docs:  ## Regenerate docs/variables.md from the roles' argument_specs
	python3 docs/gen_variables.py > docs/variables.md
