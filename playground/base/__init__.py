"""Foundation: records, text safety, paths, dates and file formats every layer uses."""
