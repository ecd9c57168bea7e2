"""ARM-shaped resources: ids, names, provisioning states and the resource documents."""
