#!/bin/sh
echo included script
