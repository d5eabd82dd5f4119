module flowmesh/goserver

go 1.19
