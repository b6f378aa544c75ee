bee
