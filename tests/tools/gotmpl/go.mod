module appnet.invalid/gotmpl

go 1.22
