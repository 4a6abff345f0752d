//go:build !linux

package main

import "errors"

const maxCPUs = 1024

var errNoPinning = errors.New("CPU pinning needs Linux; run with -pin=false")

func affinity(int) ([]int, error)      { return nil, errNoPinning }
func pinSelf([]int) error              { return errNoPinning }
func execPinned([]int, []string) error { return errNoPinning }

const pinningSupported = false
