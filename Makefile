# The two commands a new user needs (see README.md); everything else is scripts/.
.PHONY: run test bench
run:   ## set up and run the gateway on the embedded SQLite store
	scripts/run.sh
test:  ## set up and run every test
	scripts/test.sh
