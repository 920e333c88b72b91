module smppbridge

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/fiorix/go-smpp v0.0.0-20210403173735-2894b96e70ba
)

require golang.org/x/text v0.43.0 // indirect
