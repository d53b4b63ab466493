#!/bin/sh
# The main job (make run): the foundation demo for one seed.
set -eu
bin=$1
seed=$2
exec "$bin/scstsim" demo --seed "$seed"
